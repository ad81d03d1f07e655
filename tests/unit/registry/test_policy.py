"""The change policy is the deployment's, and change control applies it at every move.

Issue 18's findings reproduced here: a caller could promote on evidence judged by a looser rule (or
none), `promote` under `approval` was refused only by the CLI, the quality floor was the caller's,
and one person could force a model into service under `approval` with a name they typed.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from model_changes import CLEAR_WIN, aliases, candidate, changes_for, copy_registry, new_version

from creditrisk.registry.changes import ModelChanges, MoveRefused
from creditrisk.registry.policy import SETTINGS, ChangePolicy, EvidenceRule, PolicyError
from creditrisk.settings import POLICY_VARIABLES, Promotion, get_settings
from creditrisk_app.cli import main


def changes_in(home: Path) -> ModelChanges:
    """Change control as the CLI builds it from this process's environment (the deployment)."""
    return changes_for(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")


@pytest.fixture
def changes(home: Path, two_versions: tuple[Path, str, str]) -> ModelChanges:
    """Champion v1 (a copy of the session's registry), under the deployment's policy from the environment."""
    copy_registry(two_versions[0], home / "mlflow")
    return changes_in(home)


def test_policy_settings_are_read_and_checked_by_name() -> None:
    assert ChangePolicy.from_settings(get_settings({})) == ChangePolicy()
    env = {"CREDITRISK_MIN_AUC_GAIN": "0.02", "CREDITRISK_PROMOTION": "Approval",
           "CREDITRISK_MIN_DEFAULTS": "50"}
    policy = ChangePolicy.from_settings(get_settings(env))
    assert (policy.promotion, policy.evidence.margin, policy.evidence.min_defaults) == \
        (Promotion.APPROVAL, 0.02, 50)
    with pytest.raises(PolicyError, match="CREDITRISK_MIN_DEFAULTS must be a finite number of at least 30, "
                                          "got '5'"):
        ChangePolicy.from_settings(get_settings({"CREDITRISK_MIN_DEFAULTS": "5"}))
    with pytest.raises(PolicyError, match="CREDITRISK_MAX_RECALL_DROP must be a number, got 'lots'"):
        ChangePolicy.from_settings(get_settings({"CREDITRISK_MAX_RECALL_DROP": "lots"}))
    with pytest.raises(PolicyError, match="CREDITRISK_MIN_AUC_GAIN must be a finite number"):
        ChangePolicy.from_settings(get_settings({"CREDITRISK_MIN_AUC_GAIN": "nan"}))
    assert set(SETTINGS) == set(POLICY_VARIABLES)  # every variable the settings read sets a rule


def test_an_unknown_promotion_policy_stops_a_command_in_one_line(
        home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITRISK_PROMOTION", "automatic")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CREDITRISK_PROMOTION must be 'auto' or 'approval', got 'automatic'" in err


def test_the_evidence_rule_judges_the_recorded_figures() -> None:
    rule = EvidenceRule()
    assert rule.problems(CLEAR_WIN) == []
    assert rule.problems({**CLEAR_WIN, "n_defaults": 1}) == ["n_defaults 1.0 < 30"]
    assert rule.problems({**CLEAR_WIN, "n_defaults": 590}) == ["repaid 10.0 < 30"]
    assert rule.problems({**CLEAR_WIN, "brier_increase_ci_high": float("nan")}) == [
        "brier_increase_ci_high nan exceeds 0.005"]  # NaN > bound is False: it must still refuse
    assert rule.problems({**CLEAR_WIN, "single_class_resamples": 3}) == [
        "single_class_resamples 3 (must be 0)"]
    assert len(rule.problems({})) == 7  # no figures, no promotion: each missing one is named


def test_a_caller_cannot_promote_on_a_looser_rule_or_on_none(changes: ModelChanges, data: tuple) -> None:
    """Before: `promote` took the caller's verdict; 1 default and a negative gain bound promoted."""
    v2 = candidate(changes, data)
    loose = {**CLEAR_WIN, "n_defaults": 1, "gain_ci_low": -0.5}
    with pytest.raises(MoveRefused, match="does not clear this deployment's evidence rule"):
        changes.promote(v2, expected_champion="1", actor="dagster run A", reason="promote", evidence=loose)
    with pytest.raises(MoveRefused, match="n_rows nan < 200"):
        changes.promote(v2, expected_champion="1", actor="dagster run A", reason="promote")
    assert aliases(changes) == ("1", v2, None)
    refusal = changes.trail.events()[-1]
    assert (refusal["action"], refusal["refused"]) == ("refuse", "promote")
    assert refusal["policy"]["evidence"]["min_defaults"] == 30  # the rule that judged, recorded
    changes.promote(v2, expected_champion="1", actor="dagster run A", reason="promote", evidence=CLEAR_WIN)
    assert aliases(changes) == (v2, None, "1")


def test_under_approval_no_caller_promotes(changes: ModelChanges, data: tuple, home: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    v2 = candidate(changes, data)
    monkeypatch.setenv("CREDITRISK_PROMOTION", "approval")
    with pytest.raises(MoveRefused, match="this deployment's policy is approval"):
        changes_in(home).promote(v2, expected_champion="1", actor="dagster run A", reason="p",
                                 evidence=CLEAR_WIN)
    assert aliases(changes) == ("1", v2, None)
    assert changes.trail.events()[-1]["refused"] == "promote"


def test_the_floor_and_the_age_rule_are_judged_at_admission(changes: ModelChanges, data: tuple) -> None:
    v2 = new_version(changes, data)
    changes.register_candidate(v2, actor="dagster", reason="retrained")
    with pytest.raises(MoveRefused, match="quality floor: roc_auc 0.5500 vs floor 0.6"):
        changes.admit_challenger(v2, actor="dagster", floor_metrics={"roc_auc": 0.55, "brier": 0.1},
                                 age_rule=[])
    with pytest.raises(MoveRefused, match="age rule: Reg B age rule broken"):
        changes.admit_challenger(v2, actor="dagster", floor_metrics={"roc_auc": 0.9, "brier": 0.1},
                                 age_rule=["Reg B age rule broken: 3 of 500 profiles"])
    assert changes.challenger() is None
    assert [e["refused"] for e in changes.trail.events()[-2:]] == ["challenger", "challenger"]


def test_forced_moves_under_approval_wait_for_a_second_person(changes: ModelChanges, data: tuple, home: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `bootstrap --force` and `rollback --to N --force` crowned at once, whoever asked."""
    monkeypatch.setenv("CREDITRISK_PROMOTION", "approval")
    c = changes_in(home)
    v2 = new_version(c, data)
    move = c.bootstrap(v2, actor="alice", reason="new base data", forced=True)
    assert (move.action, c.champion(), c.awaiting()) == ("await_approval", "1", v2)
    with pytest.raises(MoveRefused, match=f"alice requested the bootstrap of version {v2} and cannot also"):
        c.approve(v2, actor="alice", reason="mine")
    c.approve(v2, actor="bob", reason="base data reviewed")
    assert aliases(c) == (v2, None, "1")

    v3 = new_version(c, data)  # never served
    assert main(["rollback", "--to", v3, "--force", "--reason", "emergency", "--actor", "carol"]) == 0
    assert f"requested: version {v3} waits for a second person" in capsys.readouterr().out
    assert (c.champion(), c.awaiting()) == (v2, v3)
    assert main(["approve", v3, "--reason", "mine", "--actor", "carol"]) == 2
    assert main(["approve", v3, "--reason", "checked", "--actor", "dave"]) == 0
    assert c.champion() == v3 and c.registry.version(v2).tags["state"] == "retired"  # a rollback's step
    c.rollback(actor="carol", reason="back to a version that served", to="1")  # one person: it served
    assert c.champion() == "1"
    assert c.trail.verify() == [] and c.trail.verify_aliases() == []


def test_production_takes_only_the_authenticated_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `--actor` and CREDITRISK_ACTOR named anyone in production: four eyes compared typed names."""
    env = {"CREDITRISK_ENV": "production", "CREDITRISK_HOME": str(tmp_path),
           "CREDITRISK_MLFLOW_URI": "http://127.0.0.1:9", "CREDITRISK_LOCK_URI": "postgresql://u@127.0.0.1:9/x"}
    with pytest.raises(ValueError, match="CREDITRISK_ACTOR is refused in production"):
        get_settings({**env, "CREDITRISK_ACTOR": "bob"})
    assert get_settings({**env, "MLFLOW_TRACKING_USERNAME": "reviewer-2"}).actor == "reviewer-2"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CREDITRISK_ACTOR", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reviewer-2")
    assert main(["approve", "7", "--reason", "r", "--actor", "reviewer-1"]) == 2
    assert "--actor is refused in production" in capsys.readouterr().err
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert main(["rollback", "--reason", "r"]) == 2
    assert "needs MLFLOW_TRACKING_USERNAME" in capsys.readouterr().err
