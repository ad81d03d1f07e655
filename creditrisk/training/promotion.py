"""The promotion rule: a challenger replaces the champion only with evidence, on what decides loans.

Both models are scored on the same labelled production rows (the last days before the
week's end, never used for training: the applicants of those days whose outcome was reported).
Promotion needs (1) at least `min_rows` labelled rows holding at least `min_defaults` defaults and
`min_repaid` repaid loans, (2) a paired-bootstrap lower bound of the AUC gain above `margin`
(ranking), and on the same resamples (3) the upper bound of the Brier score's increase at most
`max_brier_increase` (calibration: the probability is what the applicant is told) and (4) the lower
bound of the change in default recall, each model at its own served threshold, at least
`-max_recall_drop` (the defaults it lets through). The numbers are the deployment's `EvidenceRule`
(`creditrisk.registry.policy`, where change control checks the recorded figures again before any
move). A point estimate alone is not enough: on a few hundred rows a 0.01 AUC difference is noise.
A resample holding one class, or a bound that is not a finite number, refuses: it measured nothing.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

from creditrisk.registry.policy import EvidenceRule

NAN = float("nan")


@dataclass(frozen=True)
class PromotionDecision:
    """The verdict and every number it rests on (recorded with the decision)."""

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
    brier_increase: float = NAN
    brier_increase_ci_high: float = NAN
    max_brier_increase: float = EvidenceRule.max_brier_increase
    recall_change: float = NAN
    recall_change_ci_low: float = NAN
    max_recall_drop: float = EvidenceRule.max_recall_drop
    min_defaults: int = EvidenceRule.min_defaults
    min_repaid: int = EvidenceRule.min_repaid
    single_class_resamples: int = 0  # resamples without a default or without a repaid loan

    def as_dict(self) -> dict[str, float | int | bool | str]:
        return asdict(self)


def _auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of each row of `scores` (shape (b, n)) against the matching row of `y`, via ranks."""
    ranks = rankdata(scores, axis=1)
    pos = y.sum(axis=1)
    neg = y.shape[1] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * y).sum(axis=1) - pos * (pos + 1) / 2) / (pos * neg)


def _recall_rows(y: np.ndarray, denied: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (denied * y).sum(axis=1) / y.sum(axis=1)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval; a value that is not finite makes it NaN (never dropped: it measured nothing)."""
    if not np.isfinite(values).all():
        return NAN, NAN
    alpha = (1 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


@dataclass(frozen=True)
class Intervals:
    """Paired-bootstrap intervals (challenger minus champion) and the resamples that held one class."""

    auc_gain: tuple[float, float]
    brier_increase: tuple[float, float]
    recall_change: tuple[float, float]
    single_class: int


def paired_bootstrap(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                     thresholds: tuple[float, float], *, samples: int = EvidenceRule.samples,
                     confidence: float = EvidenceRule.confidence, seed: int = 0) -> Intervals:
    """Percentile intervals of the AUC gain, the Brier increase and the recall change, all on the same
    row resamples; a resample with one class has no AUC or recall, so its NaN makes those intervals NaN."""
    idx = np.random.default_rng(seed).integers(0, len(y), size=(samples, len(y)))
    yb, pc, ph = y[idx], champion[idx], challenger[idx]
    defaults = yb.sum(axis=1)
    brier = ((ph - yb) ** 2).mean(axis=1) - ((pc - yb) ** 2).mean(axis=1)
    recall = _recall_rows(yb, ph >= thresholds[1]) - _recall_rows(yb, pc >= thresholds[0])
    return Intervals(_interval(_auc_rows(yb, ph) - _auc_rows(yb, pc), confidence),
                     _interval(brier, confidence), _interval(recall, confidence),
                     int(((defaults == 0) | (defaults == len(y))).sum()))


def _shortfall(n: int, n_pos: int, min_rows: int, min_defaults: int, min_repaid: int) -> str | None:
    """Why these labels cannot carry a decision, or None."""
    if n < min_rows:
        return f"only {n} labelled rows (need {min_rows})"
    if n_pos < min_defaults:
        noun = "default" if n_pos == 1 else "defaults"
        return f"only {n_pos} {noun} among {n} labelled rows (need {min_defaults})"
    if n - n_pos < min_repaid:
        return f"only {n - n_pos} repaid among {n} labelled rows (need {min_repaid})"
    return "labels have a single class" if n_pos in (0, n) else None


def decide(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, *,
           thresholds: tuple[float, float], min_rows: int = EvidenceRule.min_rows,
           margin: float = EvidenceRule.margin, max_brier_increase: float = EvidenceRule.max_brier_increase,
           max_recall_drop: float = EvidenceRule.max_recall_drop, samples: int = EvidenceRule.samples,
           confidence: float = EvidenceRule.confidence, min_defaults: int = EvidenceRule.min_defaults,
           min_repaid: int = EvidenceRule.min_repaid, seed: int = 0) -> PromotionDecision:
    """Promote or keep, with the reason; `thresholds` are (champion's, challenger's) served thresholds."""
    y = np.asarray(y, dtype=np.int64)
    champion, challenger = np.asarray(champion, float), np.asarray(challenger, float)
    n, n_pos = len(y), int(y.sum())
    base = dict(n_rows=n, n_defaults=n_pos, margin=margin, min_rows=min_rows,
                max_brier_increase=max_brier_increase, max_recall_drop=max_recall_drop,
                min_defaults=min_defaults, min_repaid=min_repaid)
    why = _shortfall(n, n_pos, min_rows, min_defaults, min_repaid)
    if why is not None:
        return PromotionDecision(False, f"keep champion: insufficient evidence, {why}", champion_auc=NAN,
                                 challenger_auc=NAN, auc_gain=NAN, gain_ci_low=NAN, gain_ci_high=NAN, **base)
    auc_champ = float(_auc_rows(y[None, :], champion[None, :])[0])
    auc_chal = float(_auc_rows(y[None, :], challenger[None, :])[0])
    ci = paired_bootstrap(y, champion, challenger, thresholds, samples=samples, confidence=confidence,
                          seed=seed)
    (low, high), brier_high, recall_low = ci.auc_gain, ci.brier_increase[1], ci.recall_change[0]
    gain = auc_chal - auc_champ
    brier = float(np.mean((challenger - y) ** 2) - np.mean((champion - y) ** 2))
    recall = float(_recall_rows(y[None, :], challenger[None, :] >= thresholds[1])[0]
                   - _recall_rows(y[None, :], champion[None, :] >= thresholds[0])[0])
    pct = int(round(confidence * 100))
    fails = []
    if ci.single_class:
        fails.append(f"{ci.single_class} of {samples} bootstrap resamples held a single class (no AUC or "
                     "recall on them)")
    bounds = {"AUC gain": low, "Brier increase": brier_high, "default recall change": recall_low}
    if not all(math.isfinite(b) for b in bounds.values()):  # NaN > bound is False: never let it pass
        fails.append("not measurable: " + ", ".join(f"the {name} bound is {b}" for name, b in bounds.items()
                                                    if not math.isfinite(b)))
    if math.isfinite(low) and not low > margin:
        fails.append(f"AUC gain {gain:+.4f}, {pct}% CI [{low:+.4f}, {high:+.4f}] "
                     f"does not clear margin {margin:+.4f}")
    if math.isfinite(brier_high) and brier_high > max_brier_increase:
        fails.append(f"Brier increase up to {brier_high:+.4f} exceeds {max_brier_increase:.4f}")
    if math.isfinite(recall_low) and recall_low < -max_recall_drop:
        fails.append(f"default recall may drop by {-recall_low:.3f} (more than {max_recall_drop:.3f})")
    if fails:
        reason = f"keep champion on {n} rows: " + "; ".join(fails)
    else:
        reason = (f"promote: challenger AUC {auc_chal:.4f} vs champion {auc_champ:.4f} on {n} rows; "
                  f"gain {gain:+.4f}, {pct}% CI [{low:+.4f}, {high:+.4f}] above margin {margin:+.4f}; "
                  f"Brier {brier:+.4f} (bound {brier_high:+.4f}), default recall {recall:+.3f} "
                  f"(bound {recall_low:+.3f})")
    return PromotionDecision(not fails, reason, champion_auc=auc_champ, challenger_auc=auc_chal,
                             auc_gain=gain, gain_ci_low=low, gain_ci_high=high, brier_increase=brier,
                             brier_increase_ci_high=brier_high, recall_change=recall,
                             recall_change_ci_low=recall_low, single_class_resamples=ci.single_class, **base)
