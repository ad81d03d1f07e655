"""The swap guards route a change to a person at change control's boundary, under either policy.

Issue 21's findings reproduced here: the guards (a fair-lending regression, a material change,
swap-ins riskier than the swap-outs turned out) were computed and recorded but a challenger that
tripped them was promoted under `auto`, `promote` took any evidence with guards (or with no swap
analysis at all), and the guards were the caller's own `SwapRule`. The windows are hand-made: the
challenger is trained to deny applicants aged 18-24, and the labels say they default.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_changes import CLEAR_SWAPS, CLEAR_WIN, admit, aliases, changes_for, copy_registry

from creditrisk.applicants.schema import LABEL
from creditrisk.applicants.synth import generate
from creditrisk.model.credit_model import TrainConfig
from creditrisk.registry.changes import ModelChanges, MoveRefused
from creditrisk.registry.policy import ChangePolicy, PolicyError
from creditrisk.registry.states import Outcome
from creditrisk.registry.swap_rule import NO_ANALYSIS, SwapRule
from creditrisk.settings import get_settings
from creditrisk.training.retraining import evaluate
from creditrisk.training.run import train_and_register
from creditrisk_app.cli import main
from creditrisk_app.rehearsal.steps import show_swaps

YOUNG = (18, 24)


def young_default(frame: pd.DataFrame) -> pd.DataFrame:
    """The hand-made world: every applicant aged 18-24 defaults, the others as the generator says."""
    return frame.assign(**{LABEL: np.where(frame["person_age"].between(*YOUNG), 1, frame[LABEL])})


@pytest.fixture(scope="module")
def young_db(two_versions: tuple[Path, str, str], tmp_path_factory: pytest.TempPathFactory,
             data: tuple) -> tuple[Path, str]:
    """(database, v3): champion v1 and a registered v3 that learned that the young default (it denies
    every one of them at its threshold, and wins on labels that say the same)."""
    db, _, _ = two_versions
    changes = copy_registry(db, tmp_path_factory.mktemp("young"))
    raw, clean = data
    v3 = train_and_register(changes.registry, raw, young_default(clean), run_name="young", source="test",
                            config=TrainConfig(num_rounds=20, max_depth=3, eta=0.3)).version
    return Path(changes.registry.tracking_uri.removeprefix("sqlite:///")), v3


@pytest.fixture
def changes(home: Path, young_db: tuple[Path, str]) -> ModelChanges:
    """A copy of the registry with v3 as the challenger, under the deployment's policy (`auto`)."""
    copy_registry(young_db[0], home / "mlflow")
    c = changes_for(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    admit(c, young_db[1])
    return c


def windows(changes: ModelChanges) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(labelled evaluation rows, every logged applicant): 1,500 applicants the champion answered
    (its logged probability is its score), the first 800 with a matured outcome."""
    champion = changes.registry.load("1").model
    apps = young_default(generate(1_500, seed=21)).reset_index(drop=True)
    log = apps.assign(request_id=[f"r{i}" for i in range(len(apps))], model_version="1",
                      probability=champion.score_frame(apps))
    return log.iloc[:800], log.assign(**{LABEL: log[LABEL].where(log.index < 800)})


def test_the_swap_rule_judges_the_recorded_figures_not_the_recorded_verdict() -> None:
    rule = SwapRule()
    assert rule.problems(CLEAR_SWAPS) == []  # a renters' drop is a warning, never a guard
    young = {**CLEAR_SWAPS["groups"][0], "approval_after": 0.10, "ratio_after": 0.13}
    assert rule.problems({**CLEAR_SWAPS, "groups": [young, *CLEAR_SWAPS["groups"][1:]]}) == [
        "fair-lending regression: age band 18-24: approval 76.0% -> 10.0%, four-fifths ratio 0.95 -> 0.13 "
        "on 300 rows"]
    unknown = {**young, "ratio_after": None}  # stored as null: not finite, or left out
    assert rule.problems({**CLEAR_SWAPS, "groups": [unknown, *CLEAR_SWAPS["groups"][1:]]}) == [
        "fair-lending regression not ruled out: age band 18-24 has no four-fifths ratio recorded before "
        "and after"]
    noise = {**young, "rows": 29}  # too few rows to judge: shown as noise elsewhere, not a guard
    assert rule.problems({**CLEAR_SWAPS, "groups": [noise, *CLEAR_SWAPS["groups"][1:]]}) == []
    below = {**CLEAR_SWAPS["groups"][0], "ratio_before": 0.70}  # already under 0.8: may lose 0.05 more
    for after, flagged in ((0.66, False), (0.64, True)):
        groups = [{**below, "ratio_after": after}, *CLEAR_SWAPS["groups"][1:]]
        assert bool(rule.problems({**CLEAR_SWAPS, "groups": groups})) is flagged
    riskier = {**CLEAR_SWAPS, "swap_in_risk": [0.50, 0.60], "swap_out_default_rate": None}  # null: unmeasured
    assert rule.problems(riskier) == []
    assert rule.problems({**riskier, "swap_out_default_rate": 0.45}) == [
        "swap-ins' assumed risk 0.500-0.600 lies wholly above the swap-outs' realized default rate 0.450"]
    assert rule.problems(None) == [NO_ANALYSIS]
    assert "do not add up" in rule.problems({**CLEAR_SWAPS, "rows": 2000})[0]
    no_age = {**CLEAR_SWAPS, "groups": CLEAR_SWAPS["groups"][2:]}
    assert "no age band of at least 30 rows is recorded" in rule.problems(no_age)[0]
    loose = ChangePolicy.from_settings(get_settings({"CREDITRISK_MAX_SWAP_SHARE": "0.5"})).swaps
    wide = {**CLEAR_SWAPS, "counts": {**CLEAR_SWAPS["counts"], "swap_in": 300, "stay_approved": 480}}
    assert rule.problems(wide) == ["material change: 32.0% of applicants change decision (more than 10%)"]
    assert loose.problems(wide) == []
    with pytest.raises(PolicyError, match="CREDITRISK_MAX_AGE_RATIO_DROP must be a finite number of at"):
        ChangePolicy.from_settings(get_settings({"CREDITRISK_MAX_AGE_RATIO_DROP": "-1"}))


@pytest.mark.parametrize("promotion", ["auto", "approval"])
def test_a_fair_lending_regression_waits_for_a_person_under_either_policy(
        changes: ModelChanges, young_db: tuple[Path, str], promotion: str, home: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: under `auto` the challenger won its evidence and was promoted, its guards only recorded."""
    monkeypatch.setenv("CREDITRISK_PROMOTION", promotion)
    changes = changes_for(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")  # the deployment's policy
    v3 = young_db[1]
    rows, applicants = windows(changes)
    ev = evaluate(changes, v3, rows, actor="dagster run 1", context={}, applicants=applicants)
    assert ev.decision is not None and ev.decision.promote  # it wins on the evidence ...
    assert ev.outcome is Outcome.AWAITING_APPROVAL  # ... and still waits for a person
    assert (changes.champion(), changes.awaiting(), changes.challenger()) == ("1", v3, None)
    waiting = changes.trail.detail(changes.trail.events()[-1])
    assert waiting["action"] == "await_approval"
    assert "waits for a person: fair-lending regression: age band 18-24" in waiting["reason"]
    assert waiting["guards"][0].startswith("fair-lending regression: age band 18-24")
    assert waiting["policy"]["swaps"]["max_swap_share"] == 0.10  # the rule that judged, recorded
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "fair-lending regression: age band 18-24" in out and "swaps on 1500 applicants" in out


def test_the_rehearsals_second_reviewer_sees_the_swap_table(changes: ModelChanges,
                                                           young_db: tuple[Path, str]) -> None:
    """The rehearsal prints what `creditrisk status` shows the reviewer before the approval."""
    rows, applicants = windows(changes)
    evaluate(changes, young_db[1], rows, actor="dagster run 1", context={}, applicants=applicants)
    lines: list[str] = []
    show_swaps(dict(os.environ), young_db[1], lines.append)
    assert "waits for a person: fair-lending regression: age band 18-24" in lines[0]
    table = [ln.strip() for ln in lines[1:]]
    assert "| set | applicants | share |" in table and any(ln.startswith("| swap out | ") for ln in table)
    assert any(ln.startswith("| age band 18-24 | ") and ln.endswith("| REGRESSION |") for ln in table)


def test_an_evaluation_without_a_swap_analysis_waits_for_a_person(changes: ModelChanges,
                                                                  young_db: tuple[Path, str]) -> None:
    """Fail closed: whose decisions change is unknown, so no one is crowned automatically."""
    rows, _ = windows(changes)
    ev = evaluate(changes, young_db[1], rows, actor="dagster run 1", context={})
    assert ev.outcome is Outcome.AWAITING_APPROVAL and changes.champion() == "1"
    assert "no swap analysis" in changes.trail.events()[-1]["reason"]


def test_promote_judges_the_recorded_swap_figures_itself(changes: ModelChanges,
                                                         young_db: tuple[Path, str]) -> None:
    """Before: `promote` took any evidence with guards, or with no swap analysis, from any caller."""
    v3 = young_db[1]
    flagged = copy.deepcopy(CLEAR_SWAPS)
    flagged["groups"][0] |= {"approval_after": 0.10, "ratio_after": 0.13}  # 18-24 mostly denied
    flagged["guards"] = ["fair-lending regression: age band 18-24: four-fifths ratio 0.95 -> 0.13"]
    wide = {**CLEAR_SWAPS["counts"], "swap_in": 130, "stay_denied": 90}
    for swaps, why in ((flagged, "fair-lending regression: age band 18-24"),
                       ({**flagged, "guards": []}, "fair-lending regression: age band 18-24"),  # blanked
                       ({**CLEAR_SWAPS, "counts": wide}, "material change: 15.0% of applicants"),
                       (None, "no swap analysis")):
        evidence = {k: v for k, v in CLEAR_WIN.items() if k != "swaps"} | ({"swaps": swaps} if swaps else {})
        with pytest.raises(MoveRefused, match=why):
            changes.promote(v3, expected_champion="1", actor="dagster run 1", reason="p", evidence=evidence)
        refusal = changes.trail.events()[-1]
        assert (refusal["action"], refusal["refused"]) == ("refuse", "promote") and why in refusal["reason"]
    assert aliases(changes) == ("1", v3, None)
    changes.promote(v3, expected_champion="1", actor="dagster run 1", reason="p", evidence=CLEAR_WIN)
    assert aliases(changes) == (v3, None, "1")
