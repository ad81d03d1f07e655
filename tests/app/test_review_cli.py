"""On-call and review from the CLI, with the approval policy: candidate, evaluate, approve, reject.

A real SQLite registry and local request store under a temp CREDITRISK_HOME; the champion is a
deliberately weak model (5 stumps) so that a candidate trained by hand wins its evaluation.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from model_changes import changes_for, crown
from traffic import log_traffic

from creditrisk import wiring
from creditrisk.applicants.data import COLUMNS, load_dataset
from creditrisk.applicants.synth import generate
from creditrisk.model.credit_model import TrainConfig
from creditrisk.settings import get_settings
from creditrisk.training.run import train_and_register
from creditrisk_app.cli import main

AS_OF = "2026-03-02"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A champion (v1, weak), 4 weeks of labelled requests before AS_OF, approval policy on."""
    for k, v in {"CREDITRISK_HOME": str(tmp_path), "CREDITRISK_PROMOTION": "approval",
                 "CREDITRISK_DATA": str(tmp_path / "base.csv")}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CREDITRISK_MLFLOW_URI", raising=False)
    generate(16_000, seed=7)[COLUMNS].to_csv(tmp_path / "base.csv", index=False)
    raw, clean, _ = load_dataset(tmp_path / "base.csv")
    changes = changes_for(get_settings().mlflow_uri)
    weak = train_and_register(changes.registry, raw, clean.head(300), run_name="weak", source="test",
                              config=TrainConfig(num_rounds=5, max_depth=1))
    crown(changes, weak.version)
    end = datetime.fromisoformat(AS_OF).replace(tzinfo=UTC)
    log_traffic(wiring.make_store(get_settings()), weak.model, weak.version, start=end - timedelta(weeks=4),
                end=end - timedelta(days=3), rows=2_000, seed=4, label_delay=timedelta(hours=1))
    return tmp_path


def events(home: Path) -> list[dict]:
    return wiring.make_changes(get_settings()).trail.events()


def test_a_winner_waits_for_a_second_person(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["candidate", "--reason", "complaints from branch 12", "--actor", "alice",
                 "--as-of", AS_OF]) == 0
    assert "version 2 is the challenger" in capsys.readouterr().out
    assert main(["evaluate", "--actor", "alice", "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.startswith("awaiting_approval: version 2 vs champion 1: promote: challenger AUC")
    assert "\nswaps on " in out and "| swap in |" in out and "| age band 18-24 |" in out  # whom it changes
    changes = wiring.make_changes(get_settings())
    assert changes.champion() == "1" and changes.registry.version("2").tags["state"] == "awaiting_approval"
    assert main(["status"]) == 0
    waiting = json.loads(capsys.readouterr().out)["waiting"]
    assert waiting["version"] == "2" and waiting["reason"].startswith("promote: challenger AUC")
    assert waiting["swaps"].startswith("swaps on ") and "| swap out |" in "\n".join(waiting["swap_table"])

    assert main(["approve", "2", "--reason", "I trained it", "--actor", "alice"]) == 2  # four eyes
    assert "alice started candidate 2 and cannot also approve it" in capsys.readouterr().err
    assert main(["approve", "2", "--reason", "evidence reviewed", "--actor", "bob"]) == 0
    assert (changes.champion(), changes.challenger(), changes.previous()) == ("2", None, "1")
    trail = [(e["action"], e["version"], e["actor"]) for e in events(home)]
    assert [t for t in trail if t[0] != "refuse"][-4:] == [
        ("candidate", "2", "alice"), ("challenger", "2", "alice"), ("await_approval", "2", "alice"),
        ("approve", "2", "bob")]
    (awaiting,) = [changes.trail.detail(e) for e in events(home) if e["action"] == "await_approval"]
    assert awaiting["policy"]["evidence"]["min_defaults"] == 30  # the rule it was judged by, recorded
    assert awaiting["evidence"]["population"].startswith("approved applicants of the evaluation window")
    assert awaiting["evidence"]["n_rows"] > 200 and awaiting["evidence"]["policy"] == "approval"


def test_evaluate_judges_with_the_deployments_rule(home: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `creditrisk evaluate` judged with the rule's built-in defaults, whatever the deployment set."""
    monkeypatch.setenv("CREDITRISK_MIN_AUC_GAIN", "0.5")
    assert main(["candidate", "--reason", "r", "--actor", "alice", "--as-of", AS_OF]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--actor", "alice", "--as-of", AS_OF]) == 0
    assert "does not clear margin +0.5000" in capsys.readouterr().out
    kept = wiring.make_changes(get_settings()).trail.detail(events(home)[-1])
    assert (kept["action"], kept["evidence"]["margin"]) == ("keep", 0.5)
    assert wiring.make_changes(get_settings()).champion() == "1"


def test_a_waiting_winner_can_be_rejected_or_superseded(home: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["candidate", "--reason", "first try", "--actor", "alice", "--as-of", AS_OF]) == 0
    assert main(["evaluate", "--as-of", AS_OF]) == 0  # v2 waits
    assert main(["candidate", "--reason", "second try", "--actor", "carol", "--as-of", AS_OF]) == 0  # v3
    changes = wiring.make_changes(get_settings())
    assert (changes.awaiting(), changes.challenger()) == ("2", "3")  # a new candidate does not drop v2
    assert main(["evaluate", "--as-of", AS_OF]) == 0  # v3 wins too: it supersedes v2
    waiting = changes.trail.detail(events(home)[-1])
    assert (waiting["action"], waiting["version"], waiting["superseded"]) == ("await_approval", "3", "2")
    assert changes.registry.version("2").tags["state"] == "superseded"
    assert main(["approve", "2", "--reason", "too late", "--actor", "bob"]) == 2
    assert "version 2 is not awaiting approval" in capsys.readouterr().err
    assert main(["reject", "3", "--reason", "not convinced", "--actor", "carol"]) == 2  # her own candidate
    assert main(["reject", "3", "--reason", "not convinced", "--actor", "bob"]) == 0
    assert (changes.champion(), changes.challenger(), changes.awaiting()) == ("1", None, None)
    assert changes.registry.version("3").tags["state"] == "rejected"
    assert main(["audit"]) == 0
