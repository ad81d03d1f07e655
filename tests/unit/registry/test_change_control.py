"""Model change control with the real MLflow (temp SQLite): states, moves, the lock, the audit trail.

Each test here reproduces a failure of the original change control (issue 9) first: rollback to a
rejected candidate, promotion of whatever @challenger pointed at, a trail a long reason corrupted.
Versions are tiny models (5 trees) so that each costs about a second to log and register.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from model_changes import (
    CLEAR_WIN,
    aliases,
    artifact_folder,
    candidate,
    changes_for,
    crown,
    new_version,
    race_two_promoters,
)

from creditrisk.registry.changes import ModelChanges, MoveRefused, ValidationFailed
from creditrisk.registry.client import RegistryError
from creditrisk_app.cli import main


@pytest.fixture
def changes(home: Path, data: tuple) -> ModelChanges:
    """A registry with a champion (v1), as `creditrisk bootstrap` leaves it."""
    c = changes_for(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    crown(c, new_version(c, data, "bootstrap"))
    return c


def test_rollback_never_puts_a_rejected_candidate_into_service(changes: ModelChanges, data: tuple,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    v2 = candidate(changes, data)
    changes.keep(v2, expected_champion="1", actor="dagster", reason="keep champion: not better")
    assert aliases(changes) == ("1", None, None)
    assert main(["rollback", "--reason", "on-call"]) == 2
    assert "no previous champion to roll back to" in capsys.readouterr().err
    assert main(["rollback", "--reason", "on-call", "--to", v2]) == 2
    assert f"version {v2} never served; rolling back to it needs --force" in capsys.readouterr().err
    assert aliases(changes) == ("1", None, None)


def test_rollback_goes_to_the_previous_champion_once(changes: ModelChanges, data: tuple) -> None:
    v2 = candidate(changes, data)
    changes.promote(v2, expected_champion="1", actor="dagster", reason="promote: better", evidence=CLEAR_WIN)
    assert aliases(changes) == (v2, None, "1")
    assert main(["rollback", "--reason", "complaints", "--actor", "alice"]) == 0
    assert aliases(changes) == ("1", None, None)
    assert changes.registry.version(v2).tags["state"] == "retired"
    last = changes.trail.events()[-1]
    assert (last["action"], last["version"], last["champion"], last["actor"]) == \
        ("rollback", "1", v2, "alice")
    with pytest.raises(RegistryError, match="no previous champion"):
        changes.rollback(actor="bob", reason="again")
    changes.rollback(actor="bob", reason="v2 was fine after all", to=v2)  # it served: allowed by name
    assert changes.champion() == v2


def test_a_version_that_never_served_needs_force(changes: ModelChanges, data: tuple) -> None:
    v2 = new_version(changes, data)
    with pytest.raises(RegistryError, match="never served"):
        changes.rollback(actor="alice", reason="try it", to=v2)
    changes.rollback(actor="alice", reason="emergency", to=v2, force=True)
    assert changes.champion() == v2 and changes.trail.events()[-1]["forced"] is True


def test_promotion_names_what_it_evaluated_and_refuses_when_it_moved(changes: ModelChanges,
                                                                     data: tuple) -> None:
    """Two overlapping retrains: v2 was evaluated, v3 became challenger meanwhile; v2's promotion must
    not promote v3 (or anything): it refuses, records why, and the champion keeps serving."""
    v2, v3 = candidate(changes, data), candidate(changes, data)
    with pytest.raises(MoveRefused, match=f"@challenger {v2} -> {v3}"):
        changes.promote(v2, expected_champion="1", actor="dagster run A", reason="promote: better",
                        evidence=CLEAR_WIN)
    assert aliases(changes) == ("1", v3, None)
    assert changes.trail.events()[-1]["action"] == "refuse"
    with pytest.raises(MoveRefused, match="champion 7 -> 1"):  # compared against a champion that is gone
        changes.promote(v3, expected_champion="7", actor="dagster run B", reason="promote: better",
                        evidence=CLEAR_WIN)
    assert changes.registry.version(v2).tags["state"] == "superseded"  # replaced before it was judged


def test_two_promoters_in_separate_processes_cannot_both_move(changes: ModelChanges, data: tuple) -> None:
    race_two_promoters(changes, data)


def test_the_audit_trail_keeps_long_text_whole_and_detects_tampering(
        changes: ModelChanges, data: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    v2 = candidate(changes, data)
    long_reason = "keep champion: " + "the evidence, in full. " * 400  # ~9,000 characters
    changes.keep(v2, expected_champion="1", actor="dagster", reason=long_reason)
    tags = changes.registry.model_tags()
    assert max(len(v) for k, v in tags.items() if k.startswith("audit.")) <= 5000  # fits Postgres' limit
    last = changes.trail.events()[-1]
    assert changes.trail.detail(last)["reason"] == long_reason  # stored whole, digest checked
    assert main(["audit"]) == 0 and "audit trail verified" in capsys.readouterr().out

    seq = sorted(k for k in tags if k.startswith("audit.0"))
    # Delete one event, as someone with tag rights could:
    changes.registry.client.delete_registered_model_tag(changes.registry.model_name, seq[1])
    assert any("an event is missing" in p for p in changes.trail.verify())
    assert main(["audit"]) == 1 and "audit trail BROKEN" in capsys.readouterr().out
    changes.registry.set_model_tag(seq[1], tags[seq[1]])  # restored
    edited = json.loads(tags[seq[0]]) | {"actor": "someone else"}
    changes.registry.set_model_tag(seq[0], json.dumps(edited))
    assert any("does not match its hash (edited)" in p for p in changes.trail.verify())


def test_bootstrap_and_forced_bootstrap_are_events(changes: ModelChanges, data: tuple) -> None:
    first = changes.trail.events()
    assert [(e["action"], e["version"], e["forced"]) for e in first] == [("bootstrap", "1", False)]
    v2 = new_version(changes, data)
    with pytest.raises(MoveRefused, match="already version 1"):
        changes.bootstrap(v2, actor="alice", reason="again", forced=False)
    changes.bootstrap(v2, actor="alice", reason="new base data", forced=True)
    last = changes.trail.events()[-1]
    assert (last["action"], last["version"], last["champion"], last["forced"]) == ("bootstrap", v2, "1", True)
    assert aliases(changes) == (v2, None, "1")


@pytest.mark.parametrize("damage,problem", [
    ("threshold_nan", "threshold nan is not a probability strictly between 0 and 1"),
    ("foreign_spec", "its feature spec differs from the serving schema's"),
    ("other_canary", "its canary.json is not the one registered with the version"),
    ("other_canary_and_tag", "its canary scores differ from those recorded at training"),
    ("no_booster", "the artifact does not load"),
])
def test_no_invalid_version_becomes_challenger_or_champion(changes: ModelChanges, data: tuple, damage: str,
                                                           problem: str) -> None:
    """A NaN threshold, a spec of another schema version, bytes that are not the evaluated model, or a
    broken artifact: refused at every door (challenger, promotion, forced rollback), with the reason."""
    v2 = new_version(changes, data)
    folder = artifact_folder(changes, v2)
    if damage == "threshold_nan":
        (folder / "model_meta.json").write_text('{"threshold": NaN}')
    elif damage == "foreign_spec":
        spec = json.loads((folder / "feature_spec.json").read_text())
        spec["codes"]["loan_grade"] = {g: i for i, g in enumerate("GFEDCBA")}  # grades reversed
        (folder / "feature_spec.json").write_text(json.dumps(spec))
    elif damage.startswith("other_canary"):
        canary = json.loads((folder / "canary.json").read_text())
        canary["scores"] = [min(1.0, s + 0.01) for s in canary["scores"]]
        text = json.dumps(canary)
        (folder / "canary.json").write_text(text)
        if damage == "other_canary_and_tag":  # someone rewrote the record and its registered digest too
            digest = hashlib.sha256(text.encode()).hexdigest()
            changes.registry.set_version_tags(v2, {"canary_sha256": digest})
    else:
        (folder / "booster.json").unlink()
    assert problem in changes.validate(v2).summary()
    with pytest.raises(ValidationFailed, match=problem):
        changes.admit_challenger(v2, actor="dagster", floor_metrics={"roc_auc": 0.95, "brier": 0.05},
                                 age_rule=[])
    with pytest.raises(ValidationFailed, match=problem):
        changes.rollback(actor="alice", reason="emergency", to=v2, force=True)
    with pytest.raises(ValidationFailed, match=problem):
        changes.bootstrap(v2, actor="alice", reason="new base data", forced=True)
    changes.registry.set_alias("challenger", v2)  # even if it were made challenger by hand
    with pytest.raises(ValidationFailed, match=problem):
        changes.promote(v2, expected_champion="1", actor="alice", reason="by hand", evidence=CLEAR_WIN)
    changes.registry.delete_alias("challenger")
    assert aliases(changes) == ("1", None, None)
    refusals = [e for e in changes.trail.events() if e["action"] == "refuse"]
    assert [e["refused"] for e in refusals] == ["challenger", "rollback", "bootstrap", "promote"]
    assert all(problem in e["validation"][0] for e in refusals)


def test_a_valid_version_passes_the_gate(changes: ModelChanges) -> None:
    assert changes.validate("1").passed


def test_rollback_to_the_challenger_leaves_no_alias_with_two_meanings(changes: ModelChanges,
                                                                     data: tuple) -> None:
    v2 = candidate(changes, data)
    changes.rollback(actor="alice", reason="emergency: use the candidate", to=v2, force=True)
    assert aliases(changes) == (v2, None, None)
    assert changes.trail.verify_aliases() == []


def test_a_waiting_winner_stays_waiting_when_a_newer_candidate_loses(changes: ModelChanges,
                                                                     data: tuple) -> None:
    v2 = candidate(changes, data)
    changes.await_approval(v2, expected_champion="1", actor="dagster", reason="promote: better",
                           evidence=CLEAR_WIN)
    assert (changes.awaiting(), changes.challenger()) == (v2, None)
    with pytest.raises(MoveRefused, match="@challenger"):  # waiting is not promotable: only approvable
        changes.promote(v2, expected_champion="1", actor="alice", reason="skip the review",
                        evidence=CLEAR_WIN)
    v3 = candidate(changes, data)
    changes.keep(v3, expected_champion="1", actor="dagster", reason="keep champion: not better")
    assert (changes.awaiting(), changes.challenger()) == (v2, None)  # still there for a person
    changes.approve(v2, actor="bob", reason="evidence reviewed")
    assert aliases(changes) == (v2, None, "1") and changes.awaiting() is None
    assert changes.trail.verify_aliases() == []
