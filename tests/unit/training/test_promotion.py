"""The promotion rule on scores with a known truth: ranking alone does not promote."""
from __future__ import annotations

import numpy as np
import pytest

from creditrisk.training.promotion import decide


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray]:
    """1,500 applicants with a true default probability, and their outcomes."""
    rng = np.random.default_rng(7)
    p = 1 / (1 + np.exp(-rng.normal(-1.3, 1.4, 1_500)))
    return p, (rng.random(1_500) < p).astype(int)


def noisy(p: np.ndarray, scale: float, seed: int) -> np.ndarray:
    logit = np.log(p / (1 - p)) + np.random.default_rng(seed).normal(0, scale, len(p))
    return 1 / (1 + np.exp(-logit))


def test_a_better_calibrated_better_ranker_is_promoted(world: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = world
    d = decide(y, noisy(p, 1.5, 1), noisy(p, 0.2, 2), thresholds=(0.4, 0.4))
    assert d.promote and d.gain_ci_low > 0 and d.brier_increase_ci_high <= 0.005
    assert d.recall_change_ci_low >= -0.03 and d.reason.startswith("promote: challenger AUC")


def test_better_ranking_with_worse_calibration_and_recall_is_kept(world: tuple[np.ndarray, np.ndarray],
                                                                  ) -> None:
    """The challenger ranks perfectly but says a third of the true risk: fewer defaults reach the
    threshold and every probability told to an applicant is wrong. AUC alone would promote it."""
    p, y = world
    d = decide(y, noisy(p, 1.0, 1), p / 3, thresholds=(0.4, 0.4))
    assert d.gain_ci_low > 0  # the ranking part of the rule is satisfied ...
    assert not d.promote  # ... and still no promotion
    assert "Brier increase up to" in d.reason and "default recall may drop by" in d.reason
    assert d.brier_increase_ci_high > 0.005 and d.recall_change_ci_low < -0.03


def test_too_few_rows_is_never_evidence(world: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = world
    d = decide(y[:150], noisy(p, 1.5, 1)[:150], p[:150], thresholds=(0.4, 0.4), min_rows=200)
    assert not d.promote
    assert d.reason == "keep champion: insufficient evidence, only 150 labelled rows (need 200)"
