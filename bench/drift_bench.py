"""The weekly drift step at production size: a 13-week, 1M-row reference against a 100k-row week.

Usage: python bench/drift_bench.py [--keep DIR]

Set-up (not timed, in its own process): synthetic applicants from creditrisk.applicants.synth, written week by
week into a LocalRequestStore as request rows (non-feature columns filled with plausible constants).
The current week is drifted with a scenario; income_shock is the one timed.

Measured, each in a fresh process so its peak RSS (ru_maxrss) is its own:
  creditrisk  the whole step: both store reads (`columns=FEATURES`) + compute_drift (seeded sample
              of at most 100k rows per window) + HTML save; timed from before its imports.
  plain       the baseline: a plain Evidently DataDriftPreset (same drift_share) on the same frames in
              memory, full 1M/100k rows, no sampling, + HTML save; store reads done before its clock.
Then the verdicts of both on more current weeks (no drift, intent_mix, rate_hike), to show that the
sampled decision equals the full one. Exits 1 if a floor is missed or a decision differs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from creditrisk.monitoring.drift_rule import DriftRule

FLOOR_WALL_S = 30.0
FLOOR_RSS_GIB = 2.0
REFERENCE_ROWS, CURRENT_ROWS = 1_000_000, 100_000
T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; reference = 13 weeks from T0
WEEKS = 13
TIMED = "income_shock"
CHECKED = [TIMED, "none", "intent_mix", "rate_hike"]  # current week i + 1 after the reference


def week(i: int) -> tuple[datetime, datetime]:
    return T0 + timedelta(weeks=i), T0 + timedelta(weeks=i + 1)


def current_window(scenario: str) -> tuple[datetime, datetime]:
    return week(WEEKS + CHECKED.index(scenario))


def setup(root: Path) -> None:
    """Fill the store: 13 reference weeks (1M rows), then one 100k-row week per checked scenario."""
    from creditrisk.applicants import synth
    from creditrisk.store.local import LocalRequestStore

    store = LocalRequestStore(root)
    chunks = [(i, REFERENCE_ROWS // WEEKS + (i < REFERENCE_ROWS % WEEKS), "none") for i in range(WEEKS)]
    chunks += [(WEEKS + j, CURRENT_ROWS, s) for j, s in enumerate(CHECKED)]
    for i, n, scenario in chunks:  # one week at a time keeps the set-up's memory at one chunk
        start, end = week(i)
        df = synth.generate(n, seed=1_000 + i, start=start, end=end, scenario=scenario)
        df = df.drop(columns="loan_status").assign(
            request_id=[f"bench-{i:02d}-{k:07d}" for k in range(n)], probability=0.12, prediction=0,
            decision="pre-approved", threshold=0.40, model_name="credit-risk", model_version="1",
            reasons='["loan_grade A"]', latency_ms=1.5)
        store.append_requests(df)
        del df
    print(f"store: {store.count():,} requests in {len(list(root.rglob('*.parquet')))} files", flush=True)


def run_variant(variant: str, root: Path, scenario: str, html: Path) -> dict[str, Any]:
    """One measured step in this (fresh) process; prints one JSON line."""
    t0 = time.perf_counter()
    import resource

    from creditrisk.applicants import schema
    from creditrisk.monitoring.drift import compute_drift, read_snapshot
    from creditrisk.store.local import LocalRequestStore

    store = LocalRequestStore(root)
    ref_start, ref_end = T0, week(WEEKS - 1)[1]
    cur_start, cur_end = current_window(scenario)
    reference = store.read_window(ref_start, ref_end, columns=schema.FEATURES)
    current = store.read_window(cur_start, cur_end, columns=schema.FEATURES)
    t_read = time.perf_counter() - t0
    if variant == "creditrisk":
        result = compute_drift(reference, current, html_path=html)
        wall = time.perf_counter() - t0
    else:
        # Evidently needs float64, not the store's nullable Int64 age: fixed up before the clock starts.
        ref, cur = (df.astype({c: "float64" for c in schema.NUMERIC_FEATURES}) for df in (reference, current))
        del reference, current
        t1 = time.perf_counter()
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=schema.NUMERIC_FEATURES,
                                    categorical_columns=schema.CATEGORICAL_FEATURES)
        snapshot = Report([DataDriftPreset(drift_share=DriftRule.drift_share)], include_tests=True).run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition))
        snapshot.save_html(str(html))
        wall = time.perf_counter() - t1
        result = read_snapshot(snapshot.dict(), schema.FEATURES, n_ref=len(ref), n_cur=len(cur),
                               html_path=str(html))
    return {"variant": variant, "scenario": scenario, "wall_s": wall, "read_s": t_read,
            "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "html_mb": html.stat().st_size / 1e6, "result": result.to_dict()}


def spawn(variant: str, root: Path, scenario: str) -> dict[str, Any]:
    html = root.parent / f"{variant}-{scenario}.html"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--root", str(root),
                           "--scenario", scenario, "--html", str(html)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{variant}/{scenario} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - started
    return out


def verdict(r: dict[str, Any]) -> tuple[bool, list[str]]:
    res = r["result"]
    return res["dataset_drift"], [c["column"] for c in res["columns"] if c["drifted"]]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the store here and keep it (default: a temp dir)")
    ap.add_argument("--variant", choices=["setup", "creditrisk", "plain"], help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--scenario", default=TIMED, help=argparse.SUPPRESS)
    ap.add_argument("--html", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.variant == "setup":
        setup(args.root)
        return 0
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.root, args.scenario, args.html)))
        return 0

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        root = (args.keep or Path(tmp)) / "store"
        t = time.perf_counter()
        if not root.exists():
            subprocess.run([sys.executable, __file__, "--variant", "setup", "--root", str(root)], check=True)
        print(f"set-up: {time.perf_counter() - t:.0f} s ({REFERENCE_ROWS:,} reference + "
              f"{len(CHECKED)} x {CURRENT_ROWS:,} current rows in a LocalRequestStore)\n", flush=True)
        runs = {(v, s): spawn(v, root, s) for s in CHECKED for v in ("creditrisk", "plain")}

    ours, plain = runs[("creditrisk", TIMED)], runs[("plain", TIMED)]
    plain_step = plain["read_s"] + plain["wall_s"]  # its own imports and reads, timed the same way as ours
    print(f"drift step, {ours['result']['reference_rows']:,} reference vs {ours['result']['current_rows']:,} "
          f"current rows ({TIMED} week), {os.cpu_count()} cores, fresh process per variant:")
    print(f"{'':40}{'wall s':>8}{'peak RSS GiB':>14}{'HTML MB':>9}")
    print(f"{'creditrisk: reads + drift + HTML':40}{ours['wall_s']:8.1f}{ours['rss_gib']:14.2f}"
          f"{ours['html_mb']:9.1f}   (reads {ours['read_s']:.1f} s; process {ours['process_s']:.1f} s)")
    print(f"{'plain Evidently: drift + HTML':40}{plain['wall_s']:8.1f}{plain['rss_gib']:14.2f}"
          f"{plain['html_mb']:9.1f}   (frames in memory; process {plain['process_s']:.1f} s)")
    print(f"{'plain Evidently + the same reads':40}{plain_step:8.1f}{'':14}{'':9}"
          f"   (reads {plain['read_s']:.1f} s)")
    print(f"ratio creditrisk / plain Evidently: wall {ours['wall_s'] / plain['wall_s']:.2f}, "
          f"RSS {ours['rss_gib'] / plain['rss_gib']:.2f}; "
          f"vs plain + reads: wall {ours['wall_s'] / plain_step:.2f}")
    print(f"floors: whole step <= {FLOOR_WALL_S:.0f} s and <= {FLOOR_RSS_GIB:.0f} GiB peak RSS\n")

    print(f"{'current week':14}{'variant':12}{'share':>7}  dataset_drift  drifted columns")
    same = True
    max_gap = 0.0
    for s in CHECKED:
        a, b = runs[("creditrisk", s)], runs[("plain", s)]
        same &= verdict(a) == verdict(b)
        max_gap = max(max_gap, *(abs(x["score"] - y["score"]) for x, y in
                                 zip(a["result"]["columns"], b["result"]["columns"], strict=True)))
        for name, r in (("creditrisk", a), ("plain", b)):
            drift, cols = verdict(r)
            print(f"{s:14}{name:12}{r['result']['drift_share']:7.3f}  {drift!s:13}  {', '.join(cols) or '-'}")
    print(f"\nsampled == full decisions: {same}; largest per-column score gap {max_gap:.4f} "
          "(threshold 0.1)")
    ok = ours["wall_s"] <= FLOOR_WALL_S and ours["rss_gib"] <= FLOOR_RSS_GIB and same
    print("PASS" if ok else "FAIL: a floor is missed or a decision differs")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
