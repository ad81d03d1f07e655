"""The swap-set analysis on hand-made windows whose answer is known."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants.synth import generate
from creditrisk.model.calibration import Calibration
from creditrisk.registry.swap_rule import SwapRule
from creditrisk.training.swaps import SwapError, analyse, check_rescore

IDENTITY = (Calibration(), Calibration())


@pytest.fixture(scope="module")
def window() -> tuple[pd.DataFrame, np.ndarray]:
    """3,000 synthetic applicants and a champion's probabilities (uniform, so shares are predictable)."""
    frame = generate(3_000, seed=21).reset_index(drop=True)
    return frame, np.random.default_rng(21).uniform(0, 1, len(frame))


def test_a_challenger_identical_to_the_champion_swaps_no_one(window: tuple) -> None:
    frame, p = window
    r = analyse(frame, p, p.copy(), (0.40, 0.40), calibrations=IDENTITY)
    assert r.counts["swap_in"] == r.counts["swap_out"] == 0
    assert r.counts["stay_approved"] + r.counts["stay_denied"] == len(frame)
    assert r.approval_before == r.approval_after and r.guards == []
    matrix = r.matrix.to_numpy()
    assert matrix.sum() == len(frame) and (matrix == np.diag(np.diag(matrix))).all()


def test_a_threshold_shift_only_swaps_in_and_ranks_the_same_at_an_equal_approval_rate(window: tuple) -> None:
    frame, p = window
    r = analyse(frame, p, p.copy(), (0.40, 0.50), calibrations=IDENTITY)  # the challenger approves more
    expected_in = int(((p >= 0.40) & (p < 0.50)).sum())
    assert r.counts["swap_in"] == expected_in > 0 and r.counts["swap_out"] == 0
    assert r.approval_after - r.approval_before == pytest.approx(expected_in / len(frame))
    assert r.equal_rate_counts["swap_in"] == r.equal_rate_counts["swap_out"] == 0  # same ranking
    lo, hi = r.swap_in_risk
    assert lo == hi == pytest.approx(p[(p >= 0.40) & (p < 0.50)].mean())  # both models say the same
    tighter = analyse(frame, p, p.copy(), (0.40, 0.30), calibrations=IDENTITY)
    assert tighter.counts["swap_in"] == 0
    assert tighter.counts["swap_out"] == int(((p >= 0.30) & (p < 0.40)).sum())
    assert tighter.equal_rate_counts["swap_in"] == tighter.equal_rate_counts["swap_out"] == 0


def test_denying_most_young_applicants_is_a_fair_lending_regression(window: tuple) -> None:
    frame, p = window
    young = frame["person_age"].between(18, 24).to_numpy()
    q = np.where(young & (np.arange(len(p)) % 10 != 0), 0.95, p)  # 90% of 18-24 denied
    r = analyse(frame, p, q, (0.40, 0.40), calibrations=IDENTITY, rule=SwapRule(max_swap_share=1.0))
    band = next(g for g in r.groups if g.group == "18-24")
    assert band.regression and not band.noise and band.ratio_after < 0.8 <= band.ratio_before
    assert [g.group for g in r.groups if g.regression] == ["18-24"]
    assert r.guards and r.guards[0].startswith("fair-lending regression: age band 18-24")


def test_home_ownership_moves_warn_but_do_not_route_to_a_person(window: tuple) -> None:
    frame, p = window
    renters = (frame["person_home_ownership"] == "RENT").to_numpy()
    q = np.where(renters, 0.95, p)
    r = analyse(frame, p, q, (0.40, 0.40), calibrations=IDENTITY, rule=SwapRule(max_swap_share=1.0))
    assert any(g.warning and g.group == "RENT" for g in r.groups)
    assert not any(g.regression for g in r.groups if g.attribute == "home ownership")


def test_swap_outs_default_rate_is_measured_on_matured_outcomes_only(window: tuple) -> None:
    frame, p = window
    out = (p >= 0.30) & (p < 0.40)  # approved by the champion, denied by a stricter challenger
    y = np.full(len(p), np.nan)
    idx = np.flatnonzero(out)
    y[idx[: len(idx) // 2]] = np.arange(len(idx) // 2) % 4 == 0  # half matured, a quarter defaulted
    r = analyse(frame, p, p.copy(), (0.40, 0.30), y=y, calibrations=IDENTITY)
    assert r.swap_out_labelled == len(idx) // 2
    assert r.swap_out_coverage == pytest.approx((len(idx) // 2) / len(idx))
    assert r.swap_out_default_rate == pytest.approx(np.mean(np.arange(len(idx) // 2) % 4 == 0))


def test_swap_ins_riskier_than_the_swap_outs_turned_out_wait_for_a_person(window: tuple) -> None:
    frame, p = window
    q = np.where((p >= 0.40) & (p < 0.45), 0.10, np.where((p >= 0.05) & (p < 0.10), 0.90, p))
    y = np.where((p >= 0.05) & (p < 0.10), 0.0, np.nan)  # the swapped-out applicants all repaid
    r = analyse(frame, p, q, (0.40, 0.40), y=y, calibrations=IDENTITY, rule=SwapRule(max_swap_share=1.0))
    assert r.swap_out_default_rate == 0.0 and r.swap_in_risk[0] > 0
    assert any("lies wholly above the swap-outs' realized default rate 0.000" in g for g in r.guards)


def test_a_material_change_waits_for_a_person(window: tuple) -> None:
    frame, p = window
    r = analyse(frame, p, 1 - p, (0.40, 0.40), calibrations=IDENTITY)
    assert r.swap_share > 0.10 and any(g.startswith("material change") for g in r.guards)
    assert r.as_dict()["guards"] == r.guards and sum(r.as_dict()["counts"].values()) == len(frame)


def test_a_rescore_that_differs_from_the_log_names_the_rows() -> None:
    ids = pd.Series(["a", "b", "c"])
    check_rescore(ids, np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2 + 1e-8, 0.3]))  # rounding passes
    with pytest.raises(SwapError, match=r"1 of 3 logged probabilities .* request ids b"):
        check_rescore(ids, np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.25, 0.3]))
