"""The promotion rule: a challenger replaces the champion only with evidence.

Both models are scored on the same labelled production rows (the last `EVALUATION_DAYS` before the
week's end, never used for training). Promotion needs (1) at least `min_rows` labelled rows with
both classes present and (2) a paired-bootstrap lower bound of the AUC gain above `margin`. A point
estimate alone is not enough: on a few hundred rows a 0.01 AUC difference is noise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

from creditrisk.constants import BOOTSTRAP_CONFIDENCE, BOOTSTRAP_SAMPLES, MIN_AUC_GAIN, MIN_EVALUATION_ROWS


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    n_rows: int
    n_defaults: int
    champion_auc: float
    challenger_auc: float
    auc_gain: float
    gain_ci_low: float
    gain_ci_high: float
    margin: float
    min_rows: int

    def as_dict(self) -> dict[str, float | int | bool | str]:
        return asdict(self)


def _auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of each row of `scores` (shape (b, n)) against the matching row of `y`, via ranks."""
    ranks = rankdata(scores, axis=1)
    pos = y.sum(axis=1)
    neg = y.shape[1] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * y).sum(axis=1) - pos * (pos + 1) / 2) / (pos * neg)


def paired_bootstrap_gain(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, *,
                          samples: int = BOOTSTRAP_SAMPLES, confidence: float = BOOTSTRAP_CONFIDENCE,
                          seed: int = 0) -> tuple[float, float]:
    """Percentile interval of AUC(challenger) - AUC(champion), resampling rows jointly."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(samples, len(y)))
    yb = y[idx]
    gains = _auc_rows(yb, challenger[idx]) - _auc_rows(yb, champion[idx])
    gains = gains[np.isfinite(gains)]  # a resample with one class has no AUC
    alpha = (1 - confidence) / 2
    return float(np.quantile(gains, alpha)), float(np.quantile(gains, 1 - alpha))


def decide(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, *,
           min_rows: int = MIN_EVALUATION_ROWS, margin: float = MIN_AUC_GAIN,
           samples: int = BOOTSTRAP_SAMPLES, confidence: float = BOOTSTRAP_CONFIDENCE,
           seed: int = 0) -> PromotionDecision:
    y = np.asarray(y, dtype=np.int64)
    champion, challenger = np.asarray(champion, float), np.asarray(challenger, float)
    n, n_pos = len(y), int(y.sum())
    base = dict(n_rows=n, n_defaults=n_pos, margin=margin, min_rows=min_rows)
    if n < min_rows or n_pos == 0 or n_pos == n:
        why = f"only {n} labelled rows (need {min_rows})" if n < min_rows else "labels have a single class"
        nan = float("nan")
        return PromotionDecision(False, f"keep champion: insufficient evidence, {why}", champion_auc=nan,
                                 challenger_auc=nan, auc_gain=nan, gain_ci_low=nan, gain_ci_high=nan, **base)
    auc_champ, auc_chal = (_auc_rows(y[None, :], champion[None, :])[0],
                           _auc_rows(y[None, :], challenger[None, :])[0])
    low, high = paired_bootstrap_gain(y, champion, challenger, samples=samples, confidence=confidence,
                                      seed=seed)
    gain = float(auc_chal - auc_champ)
    promote = low > margin
    pct = int(round(confidence * 100))
    if promote:
        reason = (f"promote: challenger AUC {auc_chal:.4f} vs champion {auc_champ:.4f} on {n} rows; "
                  f"gain {gain:+.4f}, {pct}% CI [{low:+.4f}, {high:+.4f}] above margin {margin:+.4f}")
    else:
        reason = (f"keep champion: AUC gain {gain:+.4f} on {n} rows, {pct}% CI [{low:+.4f}, {high:+.4f}] "
                  f"does not clear margin {margin:+.4f}")
    return PromotionDecision(promote, reason, champion_auc=float(auc_champ), challenger_auc=float(auc_chal),
                             auc_gain=gain, gain_ci_low=low, gain_ci_high=high, **base)
