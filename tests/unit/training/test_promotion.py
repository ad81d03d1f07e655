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


def one_default(n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` rows with one default, which the challenger ranks first and the champion in the middle."""
    rng = np.random.default_rng(0)
    y = np.zeros(n, int)
    y[0] = 1
    champion = rng.uniform(0.05, 0.3, n)
    champion[0] = 0.12
    challenger = champion.copy()
    challenger[0] = 0.35
    return y, champion, challenger


def test_one_default_among_200_rows_is_not_evidence() -> None:
    """Before: promoted with CI [+0.69, +0.81]: the interval rested on one default."""
    d = decide(*one_default(), thresholds=(0.5, 0.5))
    assert not d.promote
    assert d.reason == ("keep champion: insufficient evidence, "
                        "only 1 default among 200 labelled rows (need 30)")
    assert (d.n_defaults, d.min_defaults, d.min_repaid) == (1, 30, 30)


def test_too_few_repaid_is_not_evidence(world: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = world
    rows = np.r_[np.flatnonzero(y == 1)[:180], np.flatnonzero(y == 0)[:20]]
    d = decide(y[rows], noisy(p, 1.5, 1)[rows], p[rows], thresholds=(0.4, 0.4))
    assert not d.promote
    assert d.reason == ("keep champion: insufficient evidence, "
                        "only 20 repaid among 200 labelled rows (need 30)")


def test_a_resample_with_one_class_counts_against_promotion() -> None:
    """With the minimums lowered to one default, about a third of the resamples hold no default:
    before, they were dropped from the interval and the challenger was promoted."""
    d = decide(*one_default(), thresholds=(0.5, 0.5), min_defaults=1, min_repaid=1)
    assert not d.promote
    assert 100 < d.single_class_resamples < 250  # (1 - 1/200)^200 = 37% of 500
    assert f"{d.single_class_resamples} of 500 bootstrap resamples held a single class" in d.reason


def test_a_bound_that_is_not_finite_refuses(world: tuple[np.ndarray, np.ndarray]) -> None:
    """One NaN score: before, the resamples holding it were dropped and the rest promoted."""
    p, y = world
    challenger = noisy(p, 0.2, 2)
    challenger[3] = np.nan
    d = decide(y, noisy(p, 1.5, 1), challenger, thresholds=(0.4, 0.4))
    assert not d.promote
    assert not np.isfinite(d.brier_increase_ci_high) and not np.isfinite(d.gain_ci_low)
    assert "not measurable: the AUC gain bound is nan, the Brier increase bound is nan" in d.reason
