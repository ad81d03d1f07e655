"""The card's swap section: whose decisions the version's latest evaluation would change, by group.

Read from the latest audit event about the version that recorded a swap analysis (its evidence's
`swaps`), in the words `creditrisk.training.swap_table` gives every other reader; the guards shown
are the ones change control judged with the deployment's swap rule when it recorded the decision.
"""
from __future__ import annotations

from typing import Any

from creditrisk.model_card.render import Cell, Section, Table
from creditrisk.training.swap_table import ASSUMPTION, GROUP_HEADER, SET_HEADER, group_rows, line, set_rows

SECTION_ID = "swaps"
TITLE = "Whose decisions the change changes"


def _latest(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest event about the version whose evidence holds a swap analysis."""
    return next((e for e in reversed(events) if isinstance(e.get("evidence"), dict)
                 and isinstance(e["evidence"].get("swaps"), dict)), None)


def swap_section(events: list[dict[str, Any]]) -> Section:
    """The swap table, the groups, the guards and the swap-in assumption of the latest evaluation."""
    event = _latest(events)
    if event is None:
        return Section(SECTION_ID, TITLE, [
            "No swap analysis recorded for this version: a first model (nothing to compare with), a "
            "version not yet evaluated against a champion, or a decision recorded before the analysis "
            "existed."])
    swaps = event["evidence"]["swaps"]
    guards = event.get("guards")
    guards = list(swaps.get("guards") or []) if guards is None else list(guards)
    rows: list[list[Cell]] = [list(r) for r in set_rows(swaps)]
    groups: list[list[Cell]] = [list(r) for r in group_rows(swaps)]
    return Section(SECTION_ID, TITLE, [
        f"Audit event {event.get('seq')} ({event.get('action')}): every logged applicant of the recent "
        "weeks rescored by the champion and this version, each at its own served threshold.",
        line(swaps),
        Table(SET_HEADER, rows),
        Table(GROUP_HEADER[:-1] + ["flag"], groups) if groups else "No group recorded.",
        *(["Why a person decides (change control's guards):", guards] if guards else
          ["No guard: no age band's four-fifths ratio regressed, the change is not material, and the "
           "swap-ins' assumed risk does not lie wholly above the swap-outs' realized default rate."]),
        f"{ASSUMPTION[0].upper()}{ASSUMPTION[1:]}."])
