"""The swap rule: what the swap-set analysis measures, and when its figures route a change to a person.

Part of the deployment's change policy (`creditrisk.registry.policy`). The analysis itself
(`creditrisk.training.swaps`) applies this rule's numbers; change control applies `problems` again
to the figures recorded with a decision, so a caller that blanks the guards, loosens the rule or
records no analysis cannot have a change promoted automatically. A guard never refuses a change: it
makes the change wait for a person (`creditrisk approve`), under either promotion policy.

Age is a prohibited basis under ECOA (Regulation B): an age band whose four-fifths ratio falls below
0.8, or drops further by more than `max_ratio_drop` when already below it, is a fair-lending
regression. Home ownership is not a prohibited basis: the same movement is a warning.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from creditrisk.model.fairness import FOUR_FIFTHS, MIN_GROUP_ROWS

PROHIBITED = ("age band",)  # attributes whose regression routes the change to a person
SETS = ("stay_approved", "stay_denied", "swap_in", "swap_out")
NO_ANALYSIS = "no swap analysis recorded: whose decisions the change changes is unknown"


def number(value: Any) -> float:
    """A recorded figure as a float: NaN when missing, not a number, or stored as null."""
    plain = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if plain else math.nan


def describe_group(g: Mapping[str, Any]) -> str:
    """One group's movement in words, from its recorded figures."""
    before, after = number(g.get("ratio_before")), number(g.get("ratio_after"))
    return (f"{g.get('attribute')} {g.get('group')}: approval {number(g.get('approval_before')):.1%} -> "
            f"{number(g.get('approval_after')):.1%}, four-fifths ratio {before:.2f} -> {after:.2f} "
            f"on {g.get('rows')} rows")


@dataclass(frozen=True)
class SwapRule:
    """The numbers of the swap-set analysis and of the guards that route a change to a person."""

    min_group_rows: int = MIN_GROUP_ROWS  # smaller groups are shown, marked as noise, never judged
    # An age band already below four-fifths may lose at most this much more of its ratio: a setting
    # of policy, not a measurement (the issue that asked for the rule proposes 0.05).
    max_ratio_drop: float = 0.05
    # More than this share of applicants changing decision is a material change (a policy setting;
    # README "Whose decisions a change changes" has what the demo's retrains measure against it).
    max_swap_share: float = 0.10
    # Score bands of the migration matrix (probability of default): the served threshold of 0.40
    # is an edge, so a band never straddles a decision.
    band_edges: tuple[float, ...] = (0.05, 0.10, 0.20, 0.40, 0.60)
    # Applicants rescored: the last two weeks (the 10-day evaluation window lies inside), about
    # 3,000 at the demo's volume; a bank's week is larger, and 100,000 rescore in ~3.5 s.
    weeks: int = 2

    def window(self, evaluation_start: datetime, as_of: datetime) -> tuple[datetime, datetime]:
        """The applicants to rescore: the last `weeks` before `as_of`, and the evaluation window."""
        return min(evaluation_start, as_of - timedelta(weeks=self.weeks)), as_of

    def worse(self, before: float, after: float) -> bool:
        """A four-fifths ratio that falls below 0.8, or falls further than allowed while below it."""
        if math.isnan(before) or math.isnan(after):
            return False
        below = before < FOUR_FIFTHS
        return (not below and after < FOUR_FIFTHS) or (below and before - after > self.max_ratio_drop)

    def problems(self, swaps: Mapping[str, Any] | None) -> list[str]:
        """Why a person must decide on the change these recorded figures describe ([] = none need).

        Judged from the figures, never from a recorded verdict: the groups' ratios, the counts, the
        swap-in risk range and the swap-outs' realized default rate. No analysis, or one without its
        counts or an age band, is a reason too (fail closed)."""
        if not isinstance(swaps, Mapping):
            return [NO_ANALYSIS]
        counts, rows = swaps.get("counts"), number(swaps.get("rows"))
        if not isinstance(counts, Mapping) or not rows >= 1 or sum(map(number, (
                counts.get(k) for k in SETS))) != rows:
            return [f"{NO_ANALYSIS} (the recorded swap counts are missing or do not add up to its rows)"]
        groups = [g for g in swaps.get("groups") or [] if isinstance(g, Mapping)]
        judged = [g for g in groups if g.get("attribute") in PROHIBITED
                  and number(g.get("rows")) >= self.min_group_rows]
        out = [] if judged else [f"{NO_ANALYSIS} by age band (no age band of at least {self.min_group_rows} "
                                 "rows is recorded, so a fair-lending regression cannot be ruled out)"]
        for g in judged:
            before, after = number(g.get("ratio_before")), number(g.get("ratio_after"))
            if math.isnan(before) or math.isnan(after):  # no group approved anyone, or a figure is missing
                out.append(f"fair-lending regression not ruled out: {g.get('attribute')} {g.get('group')} "
                           "has no four-fifths ratio recorded before and after")
            elif self.worse(before, after):
                out.append(f"fair-lending regression: {describe_group(g)}")
        share = (number(counts.get("swap_in")) + number(counts.get("swap_out"))) / rows
        if share > self.max_swap_share:
            out.append(f"material change: {share:.1%} of applicants change decision "
                       f"(more than {self.max_swap_share:.0%})")
        risk = swaps.get("swap_in_risk")
        low, high = (number(risk[0]), number(risk[1])) if isinstance(risk, list | tuple) and len(risk) == 2 \
            else (math.nan, math.nan)
        realized = number(swaps.get("swap_out_default_rate"))
        if low > realized:  # NaN on either side compares False: nothing measured, nothing to compare
            out.append(f"swap-ins' assumed risk {low:.3f}-{high:.3f} lies wholly above the swap-outs' "
                       f"realized default rate {realized:.3f}")
        return out
