"""The change policy: what a version must show before it serves, as the deployment sets it.

One `ChangePolicy` per deployment, built by `creditrisk.wiring` from the process's environment (the
README's "Configuration" table) and handed to `ModelChanges`, which applies it to every move: the
promotion policy (`auto` or `approval`), the evidence rule a challenger's evaluation must clear, the
swap rule whose guards make a change wait for a person (`creditrisk.registry.swap_rule`), the
quality floor a candidate must reach and Regulation B's age rule (a gate no setting lifts). A Dagster
run's launch configuration, a CLI flag or a caller's argument cannot change it: callers hand in
figures, change control judges them against its own numbers.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from creditrisk.registry.swap_rule import SwapRule
from creditrisk.settings import Promotion, Settings


@dataclass(frozen=True)
class EvidenceRule:
    """The numbers a challenger must clear on the evaluation rows to replace the champion."""

    min_rows: int = 200  # labelled rows of the evaluation window
    margin: float = 0.0  # the bootstrap lower bound of the AUC gain must exceed this
    # Non-inferiority on what decides loans, judged on the same rows and resamples as the AUC gain:
    # the Brier score may not get worse by more than 0.005 (a tenth of the champion's ~0.05 on the
    # real data) at the upper bound, and default recall at each model's served threshold may not
    # drop by more than 3 points at the lower bound (the bootstrap spread of recall at 1,300 rows is
    # about +-2 points, so a smaller margin would refuse equal models).
    max_brier_increase: float = 0.005
    max_recall_drop: float = 0.03
    samples: int = 500  # paired bootstrap resamples
    confidence: float = 0.95
    # A bootstrap AUC or recall interval over a handful of events of one class is not a measurement:
    # with k defaults e^-k of the resamples hold none (37% at k=1), recall moves in steps of 1/k (at
    # 30 one default is 3.3 points, about the recall margin), and 200 rows with 1 default promoted
    # with a 95% CI of [+0.69, +0.81]. Measured between two equally good models (same signal,
    # independent noise, 200 rows, 200 trials each) the rule promoted 4.5% with 1 default, 1.5% with
    # 5, 1% with 10 and 20, none with 30 or 50. Repaid loans are the majority class; the same floor
    # keeps a window of mostly defaults from deciding. A deployment may raise both, never lower them.
    min_defaults: int = 30
    min_repaid: int = 30

    def problems(self, evidence: Mapping[str, Any]) -> list[str]:
        """Why an evaluation's recorded figures do not carry a promotion under this rule ([] = they do)."""
        def number(key: str) -> float:
            value = evidence.get(key)
            plain = isinstance(value, int | float) and not isinstance(value, bool)
            return float(value) if plain else math.nan

        n, defaults = number("n_rows"), number("n_defaults")
        out = [f"{key} {number(key)} < {least}" for key, least in
               (("n_rows", self.min_rows), ("n_defaults", self.min_defaults)) if not number(key) >= least]
        if not n - defaults >= self.min_repaid:
            out.append(f"repaid {n - defaults} < {self.min_repaid}")
        if number("single_class_resamples") != 0:
            out.append(f"single_class_resamples {evidence.get('single_class_resamples')} (must be 0)")
        low, brier = number("gain_ci_low"), number("brier_increase_ci_high")
        recall = number("recall_change_ci_low")
        if not (math.isfinite(low) and low > self.margin):  # NaN compares False: a missing figure refuses
            out.append(f"gain_ci_low {low} does not exceed margin {self.margin}")
        if not (math.isfinite(brier) and brier <= self.max_brier_increase):
            out.append(f"brier_increase_ci_high {brier} exceeds {self.max_brier_increase}")
        if not (math.isfinite(recall) and recall >= -self.max_recall_drop):
            out.append(f"recall_change_ci_low {recall} below -{self.max_recall_drop}")
        return out


@dataclass(frozen=True)
class QualityFloor:
    """What a candidate must reach on its holdout before it may be compared with the champion."""

    min_auc: float = 0.90
    max_brier: float = 0.10

    def problems(self, metrics: Mapping[str, float]) -> list[str]:
        out = []
        auc, brier = metrics.get("roc_auc", math.nan), metrics.get("brier", math.nan)
        if not auc >= self.min_auc:
            out.append(f"roc_auc {auc:.4f} vs floor {self.min_auc}")
        if not brier <= self.max_brier:
            out.append(f"brier {brier:.4f} vs floor {self.max_brier}")
        return out


# Each setting (`creditrisk.settings.POLICY_VARIABLES`): the rule and field it sets, and its type.
SETTINGS: dict[str, tuple[str, str, type]] = {
    "CREDITRISK_MIN_EVALUATION_ROWS": ("evidence", "min_rows", int),
    "CREDITRISK_MIN_DEFAULTS": ("evidence", "min_defaults", int),
    "CREDITRISK_MIN_REPAID": ("evidence", "min_repaid", int),
    "CREDITRISK_MIN_AUC_GAIN": ("evidence", "margin", float),
    "CREDITRISK_MAX_BRIER_INCREASE": ("evidence", "max_brier_increase", float),
    "CREDITRISK_MAX_RECALL_DROP": ("evidence", "max_recall_drop", float),
    "CREDITRISK_MIN_CANDIDATE_AUC": ("floor", "min_auc", float),
    "CREDITRISK_MAX_CANDIDATE_BRIER": ("floor", "max_brier", float),
    "CREDITRISK_MAX_SWAP_SHARE": ("swaps", "max_swap_share", float),
    "CREDITRISK_MAX_AGE_RATIO_DROP": ("swaps", "max_ratio_drop", float),
}
# Floors no deployment may go below (the measurement is in EvidenceRule's comment).
LEAST = {"min_defaults": EvidenceRule.min_defaults, "min_repaid": EvidenceRule.min_repaid, "min_rows": 1,
         "max_swap_share": 0.0, "max_ratio_drop": 0.0}


class PolicyError(ValueError):
    """A change-policy setting is not a valid value; the message names the variable."""


@dataclass(frozen=True)
class ChangePolicy:
    """The deployment's promotion policy, evidence rule, swap rule and quality floor, applied by change
    control."""

    promotion: Promotion = Promotion.AUTO
    evidence: EvidenceRule = field(default_factory=EvidenceRule)
    floor: QualityFloor = field(default_factory=QualityFloor)
    swaps: SwapRule = field(default_factory=SwapRule)

    def as_dict(self) -> dict[str, Any]:
        """The policy as recorded with each decision it judged."""
        return {"promotion": str(self.promotion), "evidence": asdict(self.evidence),
                "floor": asdict(self.floor), "swaps": asdict(self.swaps)}

    @classmethod
    def from_settings(cls, settings: Settings) -> ChangePolicy:
        """The policy these settings name (PolicyError naming the variable for a bad value)."""
        values: dict[str, dict[str, Any]] = {"evidence": {}, "floor": {}, "swaps": {}}
        for variable, raw in settings.policy:
            rule, name, kind = SETTINGS[variable]
            try:
                value = kind(raw)
            except ValueError:
                raise PolicyError(f"{variable} must be {'a whole number' if kind is int else 'a number'}, "
                                  f"got {raw!r}") from None
            if not math.isfinite(value) or value < LEAST.get(name, -math.inf):
                least = LEAST.get(name, "-inf")
                raise PolicyError(f"{variable} must be a finite number of at least {least}, got {raw!r}")
            values[rule][name] = value
        return cls(settings.promotion, EvidenceRule(**values["evidence"]), QualityFloor(**values["floor"]),
                   SwapRule(**values["swaps"]))
