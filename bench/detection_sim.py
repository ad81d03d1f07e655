"""One seeded replicate of the monitoring loop, week by week, without Dagster or HTTP (bench/detection.py).

Each week: 1,500 synthetic applicants are scored by the champion in service; the approved ones'
outcomes are reported after a delay (creditrisk.applicants.labels, the demo's default); at the week's end
`creditrisk.monitoring.report.week_report` (the product's code, with the scipy twin for the per-column
statistics) decides, and `creditrisk.monitoring.episodes.retrain_decision` (the sensor's rule) says whether
to retrain. A retrain is a cheap XGBoost (150 trees) on the base data plus the labelled production
rows older than the evaluation window, judged by `creditrisk.training.promotion.decide` on the labelled
rows inside it; a promoted challenger serves from the next week, and its change resets the reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from creditrisk.applicants.labels import LabelDelay, report_times
from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.applicants.synth import generate
from creditrisk.model.credit_model import CreditModel, TrainConfig, split_holdout, train
from creditrisk.monitoring.episodes import reference_range, retrain_decision
from creditrisk.monitoring.realized import RealizedRule, realized_auc
from creditrisk.monitoring.report import MonitorRule, week_report
from creditrisk.monitoring.windows import WeekWindows, week_windows
from creditrisk.training.promotion import decide
from creditrisk.training.retraining import PRODUCTION_WEIGHT, training_frames

T0 = datetime(2025, 9, 29, tzinfo=UTC)  # a Monday
WARM = 13  # weeks before any drift: a full reference and the champion's baseline
PER_WEEK = 1_500
CHEAP = TrainConfig(num_rounds=150, eta=0.2, nthread=1)


@dataclass(frozen=True)
class Config:
    """A scenario at a magnitude, sudden or ramped over `ramp_weeks`, observed for `weeks` after its start."""

    scenario: str
    magnitude: float = 1.0
    ramp_weeks: int = 0
    weeks: int = 8

    @property
    def label(self) -> str:
        size = "full" if self.magnitude == 1 else f"x{self.magnitude:g}"
        return self.scenario + ("" if self.scenario == "none" else f" {size}") + \
            (f" gradual {self.ramp_weeks}w" if self.ramp_weeks else "")


@dataclass
class Served:
    model: CreditModel
    version: str
    change: datetime | None = None  # start of the change it was retrained for, once promoted


@dataclass
class Replicate:
    """What one replicate of one config measured, week by week after the warm-up."""

    config: Config
    seed: int
    weeks: list[dict[str, Any]] = field(default_factory=list)


def week_of(i: int) -> WeekWindows:
    return week_windows((T0 + timedelta(weeks=i, days=6)).date().isoformat())


def traffic(seed: int, i: int, cfg: Config, served: Served, delay: LabelDelay) -> pd.DataFrame:
    """Week i's applicants as the store logs them, with their true label and when it is reported."""
    start = T0 + timedelta(weeks=i)
    apps = generate(PER_WEEK, seed=seed * 1_000 + i, start=start, end=start + timedelta(weeks=1),
                    scenario=cfg.scenario, drift_start=T0 + timedelta(weeks=WARM), magnitude=cfg.magnitude,
                    ramp=timedelta(weeks=cfg.ramp_weeks) if cfg.ramp_weeks else None)
    p = served.model.score_frame(apps)
    at = report_times(apps["ts"], p < served.model.threshold, delay, np.random.default_rng([seed, i]))
    return apps.assign(model_version=served.version, probability=p, truth=apps[LABEL], reported_at=at,
                       **{LABEL: apps[LABEL].where(at.notna())})


def retrain(base: pd.DataFrame, log: pd.DataFrame, served: Served, w: WeekWindows,
            version: str) -> tuple[Served | None, dict[str, Any]]:
    """The stand-in retrain and the product's promotion rule; the challenger if it won."""
    known = log["reported_at"] < w.as_of
    prod = log[known & (log["ts"] < w.evaluation[0])]
    _, frame = training_frames(base, base, prod, PRODUCTION_WEIGHT)
    challenger = train(split_holdout(frame)[0], CHEAP)
    judged = log[known & (log["ts"] >= w.evaluation[0]) & (log["ts"] < w.evaluation[1])]
    d = decide(judged[LABEL].to_numpy(int), served.model.score_frame(judged), challenger.score_frame(judged),
               thresholds=(served.model.threshold, challenger.threshold))
    info = {"promoted": d.promote, "train_rows": len(prod), "judged_rows": len(judged), "gain": d.auc_gain}
    return (Served(challenger, version) if d.promote else None), info


def alert_auc(log: pd.DataFrame, w: WeekWindows, rule: RealizedRule | None = None) -> float:
    """What the realized-performance rule measures on its window, before its row minimum (the report
    shows the AUC at every row count, which is how that minimum was chosen)."""
    start, end = (rule or RealizedRule()).window(w.as_of)
    return realized_auc(log[(log["reported_at"] < end) & (log["ts"] >= start)])


def run(cfg: Config, seed: int, champion: CreditModel, base: pd.DataFrame, warm: pd.DataFrame,
        rule: MonitorRule, delay: LabelDelay) -> Replicate:
    """Weeks WARM .. WARM + cfg.weeks - 1 of one replicate, starting from the shared warm-up log."""
    served, log, previous = Served(champion, "1"), warm, None
    retrained: dict[str, str] = {}
    out = Replicate(cfg, seed)
    for i in range(WARM, WARM + cfg.weeks):
        w = week_of(i)
        week = traffic(seed, i, cfg, served, delay)
        log = pd.concat([log, week], ignore_index=True)
        ref_start, ref_end = reference_range(w, served.change)
        reference = log[(log["ts"] >= ref_start) & (log["ts"] < ref_end)]
        rep = week_report(reference, week, log, served.model, served.version, w, previous=previous, rule=rule,
                          twin=True, scores=week["probability"].to_numpy(), champion_change=served.change)
        go, why = retrain_decision(rep, retrained.get(rep["change_start"]))
        row = {"week": i - WARM, "data": rep["dataset_drift"], "share": rep["share_drift"],
               "strong": rep["strong_columns"], "concept": rep["concept_drift"], "retrain": go,
               "promoted": False, "estimate": rep["estimate/auc"], "version": served.version,
               "realized": roc_auc_score(week["truth"], week["probability"]), "skip": "" if go else why,
               "scores": {c["column"]: c["score"] for c in rep["columns"]},
               "gap_upper": rep["concept/gap_upper"],
               "importance": {k[11:]: v for k, v in rep.items() if k.startswith("importance/")},
               "alert_auc": alert_auc(log, w)}
        if go:
            retrained[rep["change_start"]] = f"week {i - WARM}"
            new, info = retrain(base, log, served, w, str(int(served.version) + 1))
            row.update(info)
            if new is not None:
                new.change = datetime.fromisoformat(rep["change_start"])
                served = new
        out.weeks.append(row)
        previous = rep
    return out


def warm_up(seed: int, champion: CreditModel, delay: LabelDelay) -> pd.DataFrame:
    """The WARM undrifted weeks every config of a replicate shares (identical rows for one seed)."""
    served = Served(champion, "1")
    weeks = [traffic(seed, i, Config("none"), served, delay) for i in range(WARM)]
    return pd.concat(weeks, ignore_index=True)


def reject_inference(seed: int, cfg: Config, champion: CreditModel, base: pd.DataFrame,
                     warm: pd.DataFrame, delay: LabelDelay, after: int = 3) -> dict[str, float]:
    """AUC on every applicant of the 2 weeks after `after` drifted weeks, of challengers trained 3 ways."""
    served = Served(champion, "1")
    log = pd.concat([warm] + [traffic(seed, i, cfg, served, delay) for i in range(WARM, WARM + after)],
                    ignore_index=True)
    w = week_of(WARM + after - 1)
    test = pd.concat([traffic(seed, i, cfg, served, delay) for i in range(WARM + after, WARM + after + 2)])
    known = log[(log["reported_at"] < w.as_of) & (log["ts"] < w.evaluation[0])]
    past = log[log["ts"] < w.evaluation[0]]
    denied = past[past["reported_at"].isna() & (past["probability"] >= champion.threshold)]
    fuzzy = pd.concat([denied.assign(**{LABEL: 1, "w": denied["probability"]}),
                       denied.assign(**{LABEL: 0, "w": 1 - denied["probability"]})])
    variants = {"approved only (the product)": known.assign(w=1.0),
                "fuzzy augmentation": pd.concat([known.assign(w=1.0), fuzzy]),
                "every outcome (oracle)": past.assign(**{LABEL: past["truth"], "w": 1.0})}
    out = {}
    for name, prod in variants.items():
        _, frame = training_frames(base, base, prod, PRODUCTION_WEIGHT)
        frame.loc[len(base):, "sample_weight"] *= prod["w"].to_numpy()
        model = train(split_holdout(frame)[0], CHEAP)
        out[name] = float(roc_auc_score(test["truth"], model.score_frame(test[FEATURES])))
    return out
