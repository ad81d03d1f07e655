"""Replicas serve only what change control decided (issue 18, finding 3), without Ray: the predictor
against a real MLflow registry on temp SQLite. v1 is crowned by change control; v2 is registered and
valid but crowned by nobody, until a test promotes it."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from model_changes import CLEAR_WIN, admit, artifact_folder, copy_registry, crown

from creditrisk.alerts import Alerter, Delivery, DeliveryStatus
from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.registry.changes import ModelChanges
from creditrisk.registry.client import Registry
from serving.config import PredictorConfig
from serving.predictor import ChampionPredictor


@dataclass(frozen=True)
class Recorder(Alerter):
    """An alert sink that keeps what it was sent."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, title: str, details: dict[str, Any]) -> Delivery:
        self.sent.append((title, details))
        return Delivery(DeliveryStatus.LOGGED)


@pytest.fixture
def registry(two_versions: tuple[Path, str, str], tmp_path: Path) -> tuple[ModelChanges, str, str]:
    """A copy of the session's registry: v1 crowned by change control, v2 only registered."""
    db, v1, v2 = two_versions
    return copy_registry(db, tmp_path / "mlflow"), v1, v2


@pytest.fixture
def replica(registry: tuple[ModelChanges, str, str]) -> Iterator[tuple[ChampionPredictor, Recorder]]:
    changes = registry[0]
    predictor = ChampionPredictor(lambda: Registry(changes.registry.tracking_uri), PredictorConfig())
    alerts = Recorder()
    predictor.alerter = alerts
    yield predictor, alerts
    asyncio.run(predictor.close())


def bare_move(changes: ModelChanges, version: str) -> None:
    """Anyone who can write to MLflow: `@champion` moved by a bare client call, no event."""
    uri = changes.registry.tracking_uri
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        changes.registry.model_name, "champion", version)


def promote(changes: ModelChanges, version: str, over: str) -> None:
    """A decision of change control: the version becomes challenger, then champion."""
    admit(changes, version)
    changes.promote(version, expected_champion=over, actor="dagster", reason="won its evaluation",
                    evidence=CLEAR_WIN)


def checks(predictor: ChampionPredictor, n: int) -> list[bool]:
    return [asyncio.run(predictor.check_once()) for _ in range(n)]


def test_an_alias_moved_by_hand_is_not_served_and_alerts_once(registry, replica) -> None:
    (changes, v1, v2), (predictor, alerts) = registry, replica
    predictor.load_initial()
    bare_move(changes, v2)
    assert checks(predictor, 4) == [False] * 4  # the first check would have swapped
    model = predictor.sections()["model"]
    assert (model["version"], model["state"]) == (v1, "degraded")
    assert (model["stray_version"], model["audited_version"]) == (v2, v1)
    assert f"names version {v2}, which no verified change-control event put there" in model["last_error"]
    assert f"the audited champion is version {v1}" in model["last_error"]
    assert predictor.score_now([EXAMPLE_APPLICANT])[0].loaded.version == v1
    assert len(alerts.sent) == 1 and alerts.sent[0][1]["stray_version"] == v2  # once, not per check
    bare_move(changes, v1)  # put back: healthy again
    assert checks(predictor, 1) == [False]
    model = predictor.sections()["model"]
    assert (model["version"], model["state"], model["stray_version"]) == (v1, "ok", None)
    promote(changes, v2, over=v1)  # now an audited decision names v2
    assert checks(predictor, 1) == [True]
    assert (predictor.sections()["model"]["version"], predictor.sections()["model"]["state"]) == (v2, "ok")
    assert len(alerts.sent) == 1


def test_files_that_are_not_the_crowned_ones_are_not_served(registry, replica) -> None:
    """The gate passes a threshold changed after the decision (the canary scores do not move); the
    digest the decision recorded does not."""
    (changes, v1, v2), (predictor, _) = registry, replica
    predictor.load_initial()
    promote(changes, v2, over=v1)
    meta = artifact_folder(changes, v2) / "model_meta.json"
    crowned = meta.read_text()
    try:
        meta.write_text(json.dumps({"threshold": 0.9}))  # approves almost everyone
        assert changes.validate(v2).passed
        assert checks(predictor, 3) == [False] * 3
    finally:
        meta.write_text(crowned)
    model = predictor.sections()["model"]
    assert (model["version"], model["state"]) == (v1, "degraded")
    assert f"version {v2}'s files are not the ones change control crowned" in model["last_error"]


def test_a_replica_starting_on_a_moved_alias_serves_the_audited_champion(registry, replica) -> None:
    (changes, v1, v2), (predictor, alerts) = registry, replica
    bare_move(changes, v2)
    predictor.load_initial()
    model = predictor.sections()["model"]
    assert (model["version"], model["state"]) == (v1, "degraded")  # it served the stray version
    assert model["stray_version"] == v2 and predictor.sections()["registry"]["alias_version"] == v2
    assert checks(predictor, 3) == [False] * 3
    assert len(alerts.sent) == 1 and predictor.sections()["model"]["version"] == v1


def test_a_fallback_must_have_the_files_it_served_with(registry, replica) -> None:
    """The champion fails validation at start; the version that served before has an extra file
    since: neither is served, and the replica refuses to start."""
    (changes, v1, v2), (predictor, _) = registry, replica
    crown(changes, v2)  # v1 served before it
    meta, extra = artifact_folder(changes, v2) / "model_meta.json", artifact_folder(changes, v1) / "extra.py"
    crowned = meta.read_text()
    try:
        meta.write_text(json.dumps({"threshold": 1.5}))
        extra.write_text("print('not what was crowned')")
        with pytest.raises(RuntimeError, match=f"{v1}'s files are not the ones change control crowned"):
            predictor.load_initial()
        assert predictor.state is None
    finally:
        meta.write_text(crowned)
        extra.unlink()


def _break_trail(changes: ModelChanges) -> None:
    key = "audit.000000"
    event = json.loads(changes.registry.model_tags()[key])
    changes.registry.set_model_tag(key, json.dumps({**event, "reason": "edited"}))


def test_a_broken_trail_fails_closed(registry, replica) -> None:
    (changes, v1, v2), (predictor, alerts) = registry, replica
    predictor.load_initial()
    _break_trail(changes)
    bare_move(changes, v2)
    assert checks(predictor, 3) == [False] * 3  # keeps what it serves
    model = predictor.sections()["model"]
    assert (model["version"], model["state"]) == (v1, "degraded")
    assert "audit trail" in model["last_error"] and len(alerts.sent) == 1
    starting = ChampionPredictor(lambda: Registry(changes.registry.tracking_uri), PredictorConfig())
    try:
        with pytest.raises(RuntimeError, match="audit trail"):
            starting.load_initial()  # a new replica refuses to start (Serve retries it)
        assert starting.state is None
    finally:
        asyncio.run(starting.close())


def test_a_pin_is_the_operators_choice_and_bypasses_the_trail(registry) -> None:
    """Documented decision: a pin is set with deployment rights, not registry rights; it needs only
    the validation gate, so it is also the way to serve while a broken trail is repaired."""
    changes, v1, v2 = registry
    _break_trail(changes)
    predictor = ChampionPredictor(lambda: Registry(changes.registry.tracking_uri),
                                  PredictorConfig(pinned_version=v2))
    try:
        predictor.load_initial()
        model = predictor.sections()["model"]
        assert (model["version"], model["state"], model["pinned_version"]) == (v2, "ok", v2)
        assert model["audited_version"] is None  # not looked at
        assert checks(predictor, 1) == [False]
    finally:
        asyncio.run(predictor.close())
