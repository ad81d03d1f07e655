"""Rescoring logged applicants with the champion and a challenger for the swap-set analysis.

Usage: python bench/swap_bench.py [--rows 100000] [--data PATH]

Two models with the product's training recipe (800 trees, depth 5): a champion on the base data and
a challenger on the same data with incomes shifted, as a retrain after a recession would be. The
logged applicants are `--rows` rows resampled from the real file (`../shared/data`, else synthetic).
Measured in this run:
  creditrisk  `rescore` (both models, vectorized, with the logged-probability check) + `analyse`
              (swap table, migration matrix, equal-approval view, groups, guards) on every row.
  baseline    the per-row path a naive rescoring would take (`score_rows` one applicant at a time,
              as /predict scores), timed on a 2,000-row sample and scaled to `--rows`.
Floor: the whole analysis of 100,000 applicants in <= 5 s. Exits 1 if it is missed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from creditrisk.applicants.data import load_base_data
from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.model.credit_model import train
from creditrisk.training.swaps import analyse, rescore

FLOOR_S = 5.0
SAMPLE = 2_000
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "credit_risk_dataset.csv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--data", default=str(REAL) if REAL.is_file() else None)
    args = ap.parse_args()
    _, clean, _ = load_base_data(args.data)
    t = time.perf_counter()
    champion = train(clean)
    shifted = clean.assign(person_income=clean["person_income"] * 0.6)
    shifted["loan_percent_income"] = (shifted["loan_amnt"] / shifted["person_income"]).clip(upper=1.0)
    challenger = train(shifted)
    print(f"set-up: two models on {len(clean):,} rows ({'real file' if args.data else 'synthetic'}) "
          f"in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(0)
    rows = clean.iloc[rng.integers(0, len(clean), args.rows)].reset_index(drop=True)
    rows["request_id"] = [f"r{i}" for i in range(len(rows))]
    rows["model_version"] = "1"
    rows["probability"] = champion.score_frame(rows[FEATURES])  # what the log would hold
    y = np.where(rng.random(len(rows)) < 0.3, rows[LABEL].to_numpy(float), np.nan)  # 30% matured

    t = time.perf_counter()
    pc, ph = rescore(rows, champion, challenger, "1")
    report = analyse(rows, pc, ph, (champion.threshold, challenger.threshold), y=y)
    ours = time.perf_counter() - t

    sample = rows.head(SAMPLE)[FEATURES].to_dict("records")
    t = time.perf_counter()
    for row in sample:
        champion.score_rows([row])
        challenger.score_rows([row])
    per_row = (time.perf_counter() - t) / SAMPLE * len(rows)

    print(f"{'path':<12}{'rows':>10}{'seconds':>10}")
    print(f"{'creditrisk':<12}{len(rows):>10,}{ours:>10.2f}   rescore + analyse (floor {FLOOR_S:.0f} s)")
    print(f"{'baseline':<12}{len(rows):>10,}{per_row:>10.2f}   per-row scoring only, from {SAMPLE:,} rows")
    print(report.line())
    return 0 if ours <= FLOOR_S else 1


if __name__ == "__main__":
    sys.exit(main())
