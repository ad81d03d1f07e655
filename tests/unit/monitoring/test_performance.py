"""The label-free estimate: expected metrics from calibrated probabilities, on every applicant of a week."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from creditrisk.applicants.schema import LABEL
from creditrisk.applicants.synth import generate
from creditrisk.model.calibration import Calibration, fit_calibration
from creditrisk.model.credit_model import TrainConfig, train
from creditrisk.monitoring.performance import calibration_error, estimate, expected_auc, realized


def brute_force_auc(p: np.ndarray, q: np.ndarray) -> float:
    """E[wins] / E[pairs] over ordered pairs of two different applicants, ties half."""
    wins = pairs = 0.0
    for i, j in itertools.permutations(range(len(p)), 2):
        w = q[i] * (1 - q[j])
        pairs += w
        wins += w * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    return wins / pairs


def test_expected_auc_is_the_pairwise_expectation_with_ties() -> None:
    rng = np.random.default_rng(0)
    p = np.round(rng.random(40), 1)  # many ties
    q = rng.random(40)
    assert expected_auc(p, q) == pytest.approx(brute_force_auc(p, q), abs=1e-12)


def test_the_estimate_is_what_calibrated_labels_realize_on_average() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(1, 4, size=1_500)
    est = estimate(p, 0.4)
    draws = [realized((rng.random(len(p)) < p).astype(int), p, 0.4) for _ in range(300)]
    for name in ("auc", "default_rate", "recall"):
        assert getattr(est, name) == pytest.approx(np.mean([getattr(d, name) for d in draws]), abs=0.004)
    assert est.rows == 1_500 and estimate(np.array([]), 0.4).rows == 0


def test_platt_calibration_repairs_overconfident_scores() -> None:
    rng = np.random.default_rng(2)
    truth = rng.beta(1, 4, size=20_000)
    y = (rng.random(len(truth)) < truth).astype(int)
    sharp = 1 / (1 + np.exp(-2 * np.log(truth / (1 - truth))))  # twice the true log-odds
    cal = fit_calibration(y[:5_000], sharp[:5_000])
    assert cal.slope == pytest.approx(0.5, abs=0.05) and cal.rows == 5_000
    assert calibration_error(y, cal.apply(sharp)) < 0.01 < calibration_error(y, sharp)
    assert abs(estimate(sharp, 0.4, cal).auc - realized(y, sharp, 0.4).auc) < 0.01
    assert abs(estimate(sharp, 0.4).auc - realized(y, sharp, 0.4).auc) > 0.03  # uncalibrated: off
    assert fit_calibration(y[:50], sharp[:50]) == Calibration()  # too few rows: the identity


def test_under_a_rate_hike_the_estimate_covers_every_applicant_within_the_floor() -> None:
    """Issue 11 point 3: calibrated on the approved applicants' outcomes, judged on all applicants."""
    model = train(generate(8_000, seed=41), TrainConfig(num_rounds=150, eta=0.15, nthread=1))
    old = generate(6_000, seed=42)
    p_old = model.score_frame(old)
    approved = p_old < model.threshold
    cal = fit_calibration(old.loc[approved, LABEL].to_numpy(), p_old[approved])
    week = generate(1_500, seed=43, scenario="rate_hike")
    p = model.score_frame(week)
    est, real = estimate(p, model.threshold, cal), realized(week[LABEL].to_numpy(), p, model.threshold)
    assert abs(est.auc - real.auc) <= 0.03
    assert abs(est.default_rate - real.default_rate) <= 0.03 and abs(est.recall - real.recall) <= 0.08
