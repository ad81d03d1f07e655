"""The swap analysis as people read it, from its recorded figures: one line, and the tables.

Everything here reads the dict a decision records (`SwapReport.as_dict()`, as the audit event
stores it: a figure that is not finite is stored as null), so a timeline, `creditrisk status`, the
model card and the rehearsal print the same words from the same record.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditrisk.registry.swap_rule import SETS, number

ASSUMPTION = ("swap-in risk is a reject-inference assumption: the range between the two models' "
              "calibrated probabilities, not a measurement; under concept drift both ends can be wrong")
SET_HEADER = ["set", "applicants", "share"]
GROUP_HEADER = ["group", "rows", "approval before", "after", "points", "four-fifths before", "after", ""]


def _count(counts: Mapping[str, Any], key: str) -> int:
    value = number(counts.get(key))
    return int(value) if value == value else 0  # NaN (missing) counts as none


def line(swaps: Mapping[str, Any]) -> str:
    """One line for a timeline or a log."""
    c, eq = swaps.get("counts") or {}, swaps.get("equal_rate_counts") or {}
    risk = swaps.get("swap_in_risk") or [None, None]
    lo, hi = number(risk[0]), number(risk[-1])
    guards, realized = list(swaps.get("guards") or []), number(swaps.get("swap_out_default_rate"))
    return (f"swaps on {swaps.get('rows')} applicants: {_count(c, 'swap_in')} in "
            f"(assumed risk {lo:.3f}-{hi:.3f}), {_count(c, 'swap_out')} out (realized default rate "
            f"{realized:.3f} on {swaps.get('swap_out_labelled')}); "
            f"approval {number(swaps.get('approval_before')):.1%} -> "
            f"{number(swaps.get('approval_after')):.1%}; at equal approval {_count(eq, 'swap_in')} in / "
            f"{_count(eq, 'swap_out')} out" + (f"; waits: {'; '.join(guards)}" if guards else ""))


def set_rows(swaps: Mapping[str, Any]) -> list[list[str]]:
    """The swap table: each set's count and share of the applicants."""
    counts, rows = swaps.get("counts") or {}, number(swaps.get("rows"))
    return [[k.replace("_", " "), str(n), f"{n / rows:.1%}" if rows else "n/a"]
            for k, n in ((k, _count(counts, k)) for k in SETS)]


def group_rows(swaps: Mapping[str, Any]) -> list[list[str]]:
    """Approval and the four-fifths ratio before and after, per group, with its flag."""
    out = []
    for g in swaps.get("groups") or []:
        before, after = number(g.get("approval_before")), number(g.get("approval_after"))
        flag = next((name for name, key in (("REGRESSION", "regression"), ("warning", "warning"),
                                            ("noise", "noise")) if g.get(key)), "")
        out.append([f"{g.get('attribute')} {g.get('group')}", str(g.get("rows")), f"{before:.1%}",
                    f"{after:.1%}", f"{100 * (after - before):+.1f}", f"{number(g.get('ratio_before')):.2f}",
                    f"{number(g.get('ratio_after')):.2f}", flag])
    return out


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "".join(f"| {' | '.join(r)} |\n" for r in (header, ["---"] * len(header), *rows))


def markdown(swaps: Mapping[str, Any]) -> str:
    """The swap table and the groups, for Dagster's metadata and the rehearsal."""
    guards = list(swaps.get("guards") or [])
    return (_markdown_table(SET_HEADER, set_rows(swaps)) + "\n"
            + _markdown_table(GROUP_HEADER, group_rows(swaps))
            + (f"\nWaits for a person: {'; '.join(guards)}.\n" if guards else "") + f"\n{ASSUMPTION}.\n")
