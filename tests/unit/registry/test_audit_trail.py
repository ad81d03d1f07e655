"""The audit trail is whole and tamper-evident: each way of damaging it is detected, and a damaged
trail is never silently continued. Real MLflow on a temp SQLite registry."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_changes import TINY, TINY_FLOOR, candidate, changes_for, crown

from creditrisk.applicants.data import load_base_data
from creditrisk.registry.changes import ModelChanges
from creditrisk.registry.client import RegistryError
from creditrisk.training.run import train_and_register
from creditrisk_app.cli import main


@pytest.fixture(scope="module")
def data() -> tuple:
    return load_base_data(None, rows=2_000, seed=3)[:2]


@pytest.fixture
def changes(tmp_path: Path, data: tuple, monkeypatch: pytest.MonkeyPatch) -> ModelChanges:
    """Champion v1, then v2 kept with a long reason (stored whole as an artifact): 5 events."""
    for k, v in {"CREDITRISK_HOME": str(tmp_path), **TINY_FLOOR}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CREDITRISK_MLFLOW_URI", raising=False)
    c = changes_for(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    crown(c, train_and_register(c.registry, *data, run_name="b", source="t", config=TINY).version)
    v2 = candidate(c, data)
    c.keep(v2, expected_champion="1", actor="dagster", reason="keep champion: " + "evidence. " * 700)
    assert c.trail.verify() == [] and c.trail.verify_aliases() == []
    return c


def tags(c: ModelChanges) -> dict[str, str]:
    return c.registry.model_tags()


def delete(c: ModelChanges, key: str) -> None:
    c.registry.client.delete_registered_model_tag(c.registry.model_name, key)


def test_a_deleted_first_event_is_detected(changes: ModelChanges) -> None:
    delete(changes, "audit.000000")
    assert any("sequence 1 where 0 was expected" in p for p in changes.trail.verify())


def test_a_removed_tail_is_detected_even_with_the_head_rewritten(changes: ModelChanges) -> None:
    keys = sorted(k for k in tags(changes) if k.startswith("audit.0"))
    before = json.loads(tags(changes)[keys[-2]])
    delete(changes, keys[-1])
    changes.registry.set_model_tag("audit.head", json.dumps({"seq": before["seq"], "hash": before["hash"]}))
    assert changes.trail.verify() == [f"version tags name event {before['seq'] + 1}, the trail ends at "
                                      f"{before['seq']} (events removed)"]


def test_a_deleted_head_stops_further_appends(changes: ModelChanges, data: tuple) -> None:
    delete(changes, "audit.head")
    assert "audit.head is missing" in changes.trail.verify()
    with pytest.raises(RegistryError, match="head and its events disagree"):
        candidate(changes, data)  # no event would overwrite audit.000000 or continue a damaged chain


def test_an_altered_long_event_document_is_detected(changes: ModelChanges) -> None:
    (event,) = [e for e in changes.trail.events() if "detail_uri" in e]
    name = f"audit/event-{event['seq']:06d}.json"
    changes.registry.store_text(event["version"], name, '{"reason": "nothing"}')
    assert any("stored document is missing or altered" in p for p in changes.trail.verify())


def test_an_alias_moved_outside_change_control_is_detected(changes: ModelChanges,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    changes.registry.set_alias("champion", "2")  # the rejected candidate, by hand
    assert changes.trail.verify_aliases() == [
        "@champion is 2, but the audit trail says 1 (moved outside change control)"]
    assert main(["audit"]) == 1
    assert "@champion is 2, but the audit trail says 1" in capsys.readouterr().out


def test_a_non_event_tag_is_reported_not_a_stack_trace(changes: ModelChanges,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    changes.registry.set_model_tag("audit.000002", '"just a string"')
    assert any("not an audit event" in p for p in changes.trail.verify())
    assert main(["audit"]) == 1 and "audit trail BROKEN" in capsys.readouterr().out


def stale_reads(changes: ModelChanges, monkeypatch: pytest.MonkeyPatch, snapshot: dict[str, str],
                calls: int | None = None) -> None:
    """The registry answers `snapshot` for the next `calls` tag reads (all, if None): a writer that read
    before another one appended (two holders of a lost lock)."""
    real, seen = changes.registry.model_tags, [0]

    def read() -> dict[str, str]:
        seen[0] += 1
        return dict(snapshot) if calls is None or seen[0] <= calls else real()
    monkeypatch.setattr(changes.registry, "model_tags", read)


def test_an_append_never_overwrites_an_existing_event(changes: ModelChanges,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the second writer wrote its event over the first one's audit.<seq>; MLflow kept the last."""
    before = dict(changes.registry.model_tags())
    first = changes.trail.append("note", "1", actor="writer a", reason="a's event")
    with monkeypatch.context() as m, pytest.raises(RegistryError,
                                                    match=f"audit.{first['seq']:06d} already exists"):
        stale_reads(changes, m, before, calls=1)  # b read the tags before a wrote
        changes.trail.append("note", "1", actor="writer b", reason="b's event")
    assert json.loads(tags(changes)[f"audit.{first['seq']:06d}"])["actor"] == "writer a"
    assert changes.trail.verify() == []


def test_an_event_written_twice_is_reported_as_a_fork(changes: ModelChanges, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Both writers read before either wrote (the window the re-read cannot close): the second
    overwrites the first. Before: the chain still verified, the first event gone without a trace."""
    before = dict(changes.registry.model_tags())
    first = changes.trail.append("note", "1", actor="writer a", reason="a's event")
    with monkeypatch.context() as m:
        stale_reads(changes, m, before)
        second = changes.trail.append("note", "1", actor="writer b", reason="b's event")
    assert second["seq"] == first["seq"]
    key = f"audit.{first['seq']:06d}"
    assert changes.trail.verify() == [f"{key}: written twice (a fork: event {first['hash'][:12]} was "
                                      f"replaced by {second['hash'][:12]}; the registry lock was not held)"]
    assert main(["audit"]) == 1 and "written twice" in capsys.readouterr().out
