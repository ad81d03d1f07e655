"""5-fold stratified CV of the served model on a credit-risk CSV: mean ± sd of the quality floor.

Usage: python bench/model_quality.py [PATH]   (default: ../shared/data/credit_risk_dataset.csv,
else synthetic data). Prints each metric next to the issue's floor and, as the baseline measured
in the same run, the original design's recipe (XGBoost defaults, 0.5 threshold, rows with missing
values dropped).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import StratifiedKFold

from creditrisk.constants import DECISION_THRESHOLD, LABEL
from creditrisk.data import load_base_data
from creditrisk.model import TrainConfig, metrics, train

FLOORS = {"roc_auc": (">=", 0.950), "accuracy": (">=", 0.935), "recall_default": (">=", 0.74),
          "brier": ("<=", 0.055)}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "credit_risk_dataset.csv"


def cross_validate(df: pd.DataFrame, config: TrainConfig, threshold: float, folds: int = 5) -> pd.DataFrame:
    rows = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(df, df[LABEL]):
        model = train(df.iloc[tr], config, threshold)
        test = df.iloc[te]
        rows.append(metrics(test[LABEL].to_numpy(), model.score_frame(test), threshold))
    return pd.DataFrame(rows)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else (DEFAULT if DEFAULT.is_file() else None)
    _, df, report = load_base_data(path)
    print(f"data: {report.path} ({len(df):,} clean rows)")
    t0 = time.perf_counter()
    ours = cross_validate(df, TrainConfig(), DECISION_THRESHOLD)
    t_ours = time.perf_counter() - t0
    original = cross_validate(df.dropna().reset_index(drop=True),
                              TrainConfig(max_depth=6, eta=0.3, num_rounds=100, colsample_bytree=1.0), 0.5)
    print(f"\n{'metric':<16}{'creditrisk (5-fold)':>24}{'original recipe':>22}{'floor':>10}  ok")
    ok_all = True
    for key in ("roc_auc", "accuracy", "recall_default", "precision_default", "brier", "pr_auc"):
        op, floor = FLOORS.get(key, ("", float("nan")))
        mean = ours[key].mean()
        ok = (mean >= floor) if op == ">=" else (mean <= floor) if op == "<=" else True
        ok_all &= ok
        floor_s = f"{op}{floor:.3f}" if op else ""
        print(f"{key:<16}{mean:>15.4f} ± {ours[key].std():.4f}{original[key].mean():>14.4f} ± "
              f"{original[key].std():.4f}{floor_s:>10}  {'yes' if ok else 'NO'}")
    print(f"\nthreshold {DECISION_THRESHOLD} (original 0.5); 5 folds trained in {t_ours:.1f} s")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
