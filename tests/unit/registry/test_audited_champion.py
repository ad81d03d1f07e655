"""The audited champion (issue 18, finding 3): every move to @champion records the digest of the files
the validation gate checked, and only a verified trail names a champion. Real MLflow on temp SQLite."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_changes import CLEAR_WIN, admit, copy_registry

from creditrisk.registry.audit import MADE_CHAMPION, AuditTrail, NoAuditedChampion, TrailBroken
from creditrisk.registry.changes import ModelChanges
from creditrisk.registry.client import Registry
from creditrisk.registry.validation import artifact_digest


@pytest.fixture
def changes(two_versions: tuple[Path, str, str], tmp_path: Path) -> ModelChanges:
    """A copy of the session's registry: v1 crowned by change control, v2 only registered."""
    return copy_registry(two_versions[0], tmp_path / "mlflow")


def test_the_digest_covers_every_file_name_and_byte(tmp_path: Path) -> None:
    a = tmp_path / "a"
    (a / "sub").mkdir(parents=True)
    (a / "booster.json").write_bytes(b"trees")
    (a / "sub" / "meta.json").write_bytes(b'{"threshold": 0.3}')
    first = artifact_digest(a)
    assert len(first) == 64 and artifact_digest(a) == first
    (a / "booster.json").write_bytes(b"treez")
    assert artifact_digest(a) != first
    (a / "booster.json").write_bytes(b"trees")
    assert artifact_digest(a) == first  # bytes and names only: no time stamps
    (a / "sub" / "meta.json").rename(a / "meta.json")
    assert artifact_digest(a) != first  # a moved file is a different artifact
    (a / "meta.json").rename(a / "sub" / "meta.json")
    (a / "extra").write_bytes(b"")
    assert artifact_digest(a) != first  # an added (even empty) file too


def _files_digest(changes: ModelChanges, version: str, tmp: Path) -> str:
    """The digest of the version's files as a fresh download has them."""
    return artifact_digest(changes.registry.load(version, dst=tmp / f"dl-{version}").files())


def test_every_move_to_champion_records_its_files_digest(changes: ModelChanges, two_versions: tuple,
                                                           tmp_path: Path) -> None:
    _, v1, v2 = two_versions
    admit(changes, v2)
    changes.await_approval(v2, expected_champion=v1, actor="dagster", reason="won", evidence=CLEAR_WIN)
    changes.approve(v2, actor="reviewer", reason="looked at it")
    assert changes.trail.audited_champion().version == v2
    changes.rollback(actor="on-call", reason="v2 misbehaves")
    assert changes.trail.audited_champion().version == v1
    admit(changes, v2)
    changes.promote(v2, expected_champion=v1, actor="dagster", reason="fixed: " + "evidence. " * 700,
                    evidence=CLEAR_WIN)
    crowning = [e for e in changes.trail.events() if e["action"] in MADE_CHAMPION]
    assert [(e["action"], e["version"]) for e in crowning] == [
        ("bootstrap", v1), ("approve", v2), ("rollback", v1), ("promote", v2)]
    assert "detail_uri" in crowning[-1]  # a long event: the digest stays in the tag all the same
    digests = {v: artifact_digest(changes.registry.load(v, dst=tmp_path / v).files()) for v in (v1, v2)}
    assert digests[v1] != digests[v2]
    for event in crowning:
        assert event["artifact_digest"] == digests[event["version"]], event["action"]
    audited = changes.trail.audited_champion()
    assert (audited.version, audited.digest, audited.action) == (v2, digests[v2], "promote")
    assert [(c.version, c.digest, c.action) for c in changes.trail.verified_served()] == [
        (v1, digests[v1], "rollback"), (v2, digests[v2], "promote")]  # most recently crowned last


def test_a_broken_trail_names_no_champion(changes: ModelChanges, two_versions: tuple) -> None:
    _, v1, _ = two_versions
    nothing = Registry(changes.registry.tracking_uri, model_name="never-crowned")
    with pytest.raises(NoAuditedChampion, match="no event"):
        AuditTrail(nothing).audited_champion()
    assert changes.trail.audited_champion().version == v1
    key = "audit.000000"
    event = json.loads(changes.registry.model_tags()[key])
    changes.registry.set_model_tag(key, json.dumps({**event, "version": "7"}))  # an edited decision
    with pytest.raises(TrailBroken, match="does not match its hash"):
        changes.trail.audited_champion()
    with pytest.raises(TrailBroken, match="does not match its hash"):
        changes.trail.verified_served()
