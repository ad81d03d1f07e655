"""Detection power of the weekly monitoring, measured: delays, false alarms, retrains, the estimate's error.

Usage: python bench/detection.py [--replicates 20] [--workers 2] [--magnitude 1 --magnitude 0.5]
       [--ramp-weeks 4] [--label-delay uniform:2,12]

Runs the product's decisions directly (creditrisk.monitoring.report.week_report, the sensor's
creditrisk.monitoring.episodes.retrain_decision, creditrisk.training.promotion.decide; no Dagster,
no HTTP), seeded,
at 1,500 requests per week, on the simulation of bench/detection_sim.py: 13 undrifted weeks, then
52 more under `none`, or 8 weeks of a scenario at full and half magnitude, or 10 weeks of it
ramped in over 4 weeks (gradual). The champion is the product's recipe trained on the synthetic
base data; retrains are a cheap stand-in. Prints the detection table, the figures behind the
thresholds of the core's rule objects, a reject-inference comparison, and a check that the scipy
twin and Evidently give the same decisions; exits 1 if a floor of issue 11 is missed.
"""
from __future__ import annotations

import argparse
import multiprocessing
import pickle
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from creditrisk_app.demo.traffic import DEMO_LABEL_DELAY

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detection_report as report  # noqa: E402
import detection_sim as sim  # noqa: E402

from creditrisk.applicants.data import load_base_data  # noqa: E402
from creditrisk.applicants.labels import LabelDelay  # noqa: E402
from creditrisk.model.credit_model import CreditModel, TrainConfig, split_holdout, train  # noqa: E402
from creditrisk.model.features import FeatureSpec  # noqa: E402
from creditrisk.monitoring.report import MonitorRule  # noqa: E402

SCENARIOS = ["income_shock", "intent_mix", "rate_hike", "concept", "recession"]
COVARIATE = ["income_shock", "intent_mix", "rate_hike"]


def configs(magnitudes: list[float], ramp_weeks: int) -> list[sim.Config]:
    """`none` for a year, each scenario at each magnitude, and each ramped in at the first magnitude."""
    out = [sim.Config("none", weeks=52)] + [sim.Config(s, m) for s in SCENARIOS for m in magnitudes]
    return out + ([sim.Config(s, magnitudes[0], ramp_weeks=ramp_weeks, weeks=8 + ramp_weeks // 2)
                   for s in SCENARIOS] if ramp_weeks else [])


REJECT_SEEDS = 4  # replicates that also compare reject-inference choices
_STATE: dict[str, Any] = {}


def _init(booster: str, delay: str, runs: list[sim.Config]) -> None:
    """Per worker: the champion, the base data, one XGBoost thread (the workers use the cores)."""
    b = xgb.Booster(model_file=booster)
    b.set_param({"nthread": 1})
    _STATE.update(champion=CreditModel(b, FeatureSpec.default()), base=load_base_data(None)[1],
                  delay=LabelDelay.parse(delay), rule=MonitorRule(), configs=runs)


def replicate(seed: int) -> tuple[list[sim.Replicate], list[dict[str, Any]]]:
    """Every config for one seed (sharing the warm-up), and the reject-inference runs of the first seeds."""
    champion, base, delay = _STATE["champion"], _STATE["base"], _STATE["delay"]
    warm = sim.warm_up(seed, champion, delay)
    runs = [sim.run(cfg, seed, champion, base, warm, _STATE["rule"], delay) for cfg in _STATE["configs"]]
    reject = [{"scenario": s, **sim.reject_inference(seed, sim.Config(s), champion, base, warm, delay)}
              for s in SCENARIOS if seed < REJECT_SEEDS]
    return runs, reject


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--label-delay", default=DEMO_LABEL_DELAY, help="outcome delay, e.g. uniform:2,12")
    ap.add_argument("--magnitude", type=float, action="append",
                    help="scenario magnitude, repeatable (default: 1 and 0.5, full and half)")
    ap.add_argument("--ramp-weeks", type=int, default=4, help="the gradual variant's ramp (0: none)")
    ap.add_argument("--save", type=Path, help="also write the raw results here (pickle)")
    ap.add_argument("--load", type=Path, help="print the tables of results saved by --save; simulate nothing")
    args = ap.parse_args(argv)
    runs_of = configs(args.magnitude or [1.0, 0.5], args.ramp_weeks)
    started = time.perf_counter()
    base = load_base_data(None)[1]
    champion = train(split_holdout(base)[0], TrainConfig(nthread=args.workers))
    if args.load:
        done = pickle.loads(args.load.read_bytes())
    else:
        with tempfile.TemporaryDirectory(prefix="detection-") as tmp:
            path = str(Path(tmp) / "champion.json")
            champion.booster.save_model(path)
            # spawn, not fork: a child forked after XGBoost's OpenMP threads ran can hang on their locks
            with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init, initargs=(path, args.label_delay, runs_of)) as pool:
                done = list(pool.map(replicate, range(args.replicates)))
        if args.save:
            args.save.write_bytes(pickle.dumps(done))
    runs = [r for rs, _ in done for r in rs]
    reject = pd.DataFrame([row for _, rows in done for row in rows])
    print(f"{args.replicates} replicates x {len(runs_of)} configs at {sim.PER_WEEK:,} requests/week, "
          f"label delay {args.label_delay} (approved applicants only), {args.workers} workers: "
          f"{time.perf_counter() - started:.0f} s\n")
    table = report.detection_table(runs)
    print(report.markdown(table) + "\n")
    print(report.evidence(runs, champion) + "\n")
    print(report.reject_table(reject) + "\n")
    same, gap = report.twin_check(champion, LabelDelay.parse(args.label_delay))
    print(f"twin vs Evidently on {len(same)} windows: identical decisions {all(same)}, "
          f"largest score gap {gap:.1e}\n")
    fails = report.floors(table, COVARIATE) + ([] if all(same) else ["the twin's decisions differ"])
    verdict = "PASS" if not fails else "FAIL: " + "; ".join(fails)
    print(f"total {time.perf_counter() - started:.0f} s; {verdict}")
    return 0 if not fails else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
