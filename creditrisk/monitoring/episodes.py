"""Drift episodes: when a change began, when retraining can learn it, and the reference after it.

An episode is a run of flagged weeks (data or concept drift) at most `EPISODE_GAP_WEEKS` apart,
under one champion or the champion retrained for it (a change still ramping in after the
retrain is the same change); its `change_start` is where the evidence begins: the first flagged
week, or for a concept flag the start of the labelled rows that showed it. The loop acts on an
episode once:
- **Retrain when the change can be learned.** A challenger learns the changed world only from its
  labelled rows older than the evaluation window, and is judged on the labelled rows inside it. A
  retrain started before both exist trains the old world again and is kept, and the episode would
  be flagged again next week. So the sensor retrains once the changed world has at least
  `min_train_rows` labelled rows to train on and `min_evaluation_rows` to judge on; until then it
  skips, saying how many there are. The retrain is owed to the episode, not to a flagged week: it
  starts when the labels are there even if that week is not flagged (e.g. the rolling reference
  has begun to absorb the change).
- **One retrain per episode.** Later flagged weeks of the same episode do not retrain again; if
  that retrain was kept, the episode stays flagged (the realized-AUC alert tells a person).
- **Reference after a confirmed change.** A champion retrained for an episode and promoted was
  trained for the world since `change_start`: later weeks compare against the weeks since then
  (at most the usual 13), not the world before, so one change is not re-flagged every week.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from creditrisk.applicants.schema import LABEL
from creditrisk.monitoring.concept import as_utc
from creditrisk.monitoring.windows import WeekWindows
from creditrisk.registry.client import Registry
from creditrisk.registry.policy import EvidenceRule
from creditrisk.registry.states import Alias

# Retraining waits until the changed world has labels to learn from: at least this many labelled
# rows since the change and older than the evaluation window (and the evidence rule's minimum inside
# it). Only one retrain is spent per episode, so it must be able to win: in bench/detection.py's
# simulation a challenger with ~450-650 changed-world rows beat the champion under `concept` in 1
# of 2 seeds, with ~1,300-1,900 in 2 of 2 (recession: 0 and 1 of 2). At 1,500 requests/week this is
# the second week after the change (the 10-day evaluation window holds the rest back). With it,
# the benchmark promoted the episode's retrain in 95% of `concept` and 70% of `recession` seeds.
MIN_CHANGE_TRAIN_ROWS = 1_000
# Flagged weeks at most this far apart belong to one drift episode (one retrain): a change that is
# flagged only in some weeks, or still ramping in after its retrain, is not retrained for twice.
EPISODE_GAP_WEEKS = 4


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def episode(flagged: bool, evidence_start: datetime, as_of: datetime, champion: str,
            champion_change: datetime | None, previous: Mapping[str, Any] | None,
            gap_weeks: int = EPISODE_GAP_WEEKS) -> tuple[datetime | None, datetime | None]:
    """(change_start, last flagged week's end) of the episode this week belongs to; (None, None) outside one.

    Last week's report (`previous`) carries an open episode forward while its last flag is at most
    `gap_weeks` old and the champion is the same one, or the one retrained for that very change.
    """
    start, last = (_when(previous.get("change_start")), _when(previous.get("last_flagged"))) if previous \
        else (None, None)
    same = previous is not None and (str(previous.get("champion_version")) == str(champion)
                                     or (start is not None and champion_change == start))
    open_ = start is not None and last is not None and same and as_of - last <= timedelta(weeks=gap_weeks)
    if flagged:
        return (start if open_ else evidence_start), as_of
    return (start, last) if open_ else (None, None)


CHANGE_TAG = "trigger.change_start"  # on a retrained model's MLflow run: the change it was retrained for


def change_of(registry: Registry, run_id: str) -> datetime | None:
    """The start of the change the model of training run `run_id` was retrained for; None if it was not."""
    return _when(registry.client.get_run(run_id).data.tags.get(CHANGE_TAG))


def champion_change(registry: Registry) -> tuple[str | None, datetime | None]:
    """(the champion's version, the start of the change it was retrained for); None for what is unknown."""
    mv = registry.version_for(Alias.CHAMPION)
    return (None, None) if mv is None else (str(mv.version), change_of(registry, mv.run_id))


def reference_range(w: WeekWindows, change: datetime | None) -> tuple[datetime, datetime]:
    """The reference window: the usual weeks before the current one, but none before the champion's change."""
    start, end = w.reference
    return (start if change is None else min(max(start, change), end)), end


@dataclass(frozen=True)
class Readiness:
    """Labelled rows of the changed world: to train on (before the evaluation window) and to judge on."""

    train_rows: int
    evaluation_rows: int
    min_train_rows: int = MIN_CHANGE_TRAIN_ROWS
    min_evaluation_rows: int = EvidenceRule.min_rows

    @property
    def ready(self) -> bool:
        return self.train_rows >= self.min_train_rows and self.evaluation_rows >= self.min_evaluation_rows


def readiness(labelled: pd.DataFrame, change: datetime, w: WeekWindows, *,
              min_train_rows: int = MIN_CHANGE_TRAIN_ROWS,
              min_evaluation_rows: int = EvidenceRule.min_rows) -> Readiness:
    """Count the labelled rows (outcome reported by the week's end) a retrain for this change would use."""
    ts = as_utc(labelled["ts"])
    known = labelled[LABEL].notna() & (as_utc(labelled["reported_at"]) < w.as_of)
    train = known & (ts >= change) & (ts < w.evaluation[0])
    judge = known & (ts >= max(change, w.evaluation[0])) & (ts < w.evaluation[1])
    return Readiness(int(train.sum()), int(judge.sum()), min_train_rows, min_evaluation_rows)


def _what(report: Mapping[str, Any]) -> str:
    parts = []
    if report.get("dataset_drift"):
        strong = report.get("strong_columns") or ""
        parts.append(f"data drift ({report.get('n_drifted', '?')}/{report.get('n_columns', '?')} columns"
                     + (f"; {strong} on its own" if strong else "") + ")")
    if report.get("concept_drift"):
        parts.append(f"concept drift ({report.get('concept/reason', '')})")
    return " and ".join(parts)


def retrain_decision(report: Mapping[str, Any], retrained_in: str | None = None) -> tuple[bool, str]:
    """(start a retrain?, why), from a drift report's metadata; `retrained_in` names a retrain run already
    started for this report's episode."""
    week = report.get("week", "?")
    change = report.get("change_start") or ""
    if not (report.get("dataset_drift") or report.get("concept_drift")):
        why = "insufficient data" if report.get("status") == "insufficient data" else "no drift"
        concept = report.get("concept/reason")
        quiet = (f"{why} in week {week}: {report.get('n_drifted', '?')}/{report.get('n_columns', '?')} "
                 "columns drifted" + (f"; no concept drift: {concept}" if concept else ""))
        if not change or retrained_in or not report.get("retrain_ready"):
            return False, quiet + (f" (the change since {change} is still open)" if change else "")
        return True, (f"the change since {change} (last flagged {report.get('last_flagged', '?')}) now has "
                      f"labels to learn from; {quiet}")
    what = _what(report)
    if retrained_in:
        return False, (f"{what} in week {week} continues the change since {change}, "
                       f"already retrained for in run {retrained_in}")
    if not report.get("retrain_ready"):
        return False, (f"{what} in week {week}: retraining waits for labels of the changed world since "
                       f"{change}: {report.get('change_train_rows', 0)} labelled rows to train on (need "
                       f"{report.get('min_change_train_rows', MIN_CHANGE_TRAIN_ROWS)}), "
                       f"{report.get('evaluation_rows', 0)} to judge on (need "
                       f"{report.get('min_evaluation_rows', EvidenceRule.min_rows)})")
    return True, f"{what} in week {week}, change since {change}"
