"""Reliability drills on loopback: the faults a bank's service meets, and what each one cost.

Usage: python bench/reliability.py [--requests 20000] [--outage-s 30]
Starts `mlflow server` (the registry, over http) and `creditrisk serve --min-replicas 2` as an
operator would, bootstraps a champion on the real data set (or synthetic data), then runs:
(a) a replica SIGKILLed under c=32 load; (b) the request store unwritable under load; (c) the
registry stopped under load; (d) a truncated file dropped into the store, then `/outcomes`;
(e) SIGTERM 100 ms after the last answer; (f) schemathesis against `/openapi.json`; (g) a full
disk under the write-ahead log (`disk_full.py`: injected short writes, in-process, next to the
log without its cut-back as the baseline). Each drill writes its own simulated day
(X-Request-Time), so "answered = logged" is counted per drill. `--drills g` runs only the ones
named (the service starts only when one needs it).
Needs Debian's `wrk`. Prints one table; every figure is measured in this run.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from disk_full import drill_disk_full  # noqa: E402
from reliability_drills import (  # noqa: E402
    drill_corrupt,
    drill_kill,
    drill_registry,
    drill_schemathesis,
    drill_sigterm,
    drill_store,
)
from reliability_service import Bench  # noqa: E402


def print_table(res: dict[str, dict]) -> None:
    """One markdown table of every drill that ran."""
    def counts(r: dict) -> str:
        failed, logged = r.get("failed", r.get("refused", "")), r.get("logged", r.get("stored", ""))
        return f"{failed} | {r.get('answered', '')} | {logged}"

    notes = {
        "a": lambda r: f"new replica up after {r['recovery_s']:.1f} s",
        "b": lambda r: (f"backlog peak {r['backlog_peak']:,} rows (one replica); "
                        f"/readyz {', '.join(r['states'])}"),
        "c": lambda r: f"/readyz {', '.join(r['states'])}",
        "d": lambda r: f"/outcomes {r['outcome_status']}, quarantined files {r['quarantined']}",
        "e": lambda r: f"exit {r['exit']}, processes left {r['left_running']}",
        "f": lambda r: f"{r['calls']} calls, 5xx: {r['5xx']}",
        "g": lambda r: f"torn lines {r['torn']}, answered rows lost to a torn line {r['lost']}",
    }
    names = {"a": "a replica SIGKILLed under c=32", "b": "request store unwritable",
             "c": "registry (mlflow server) stopped", "d": "truncated file in the store",
             "e": "SIGTERM 100 ms after the last answer", "f": "schemathesis, every operation",
             "g": f"disk full: every {res.get('g', {}).get('every')}th log write cut after "
                  f"{res.get('g', {}).get('k')} bytes (ENOSPC)"}
    print("\n| drill | failed requests | answered (200) | logged | |\n|---|---|---|---|---|")
    for key in "abcdefg":
        if key in res:
            print(f"| ({key}) {names[key]} | {counts(res[key])} | {notes[key](res[key])} |")
    if "g" in res:  # its baseline, measured in the same run
        base = res["g"]["baseline"]
        print(f"| (g) baseline: the same writes, log without its cut-back (before issue 19) "
              f"| {counts(base)} | {notes['g'](base)} |")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--outage-s", type=int, default=30)
    ap.add_argument("--drills", default="abcdefg", help="which drills to run, e.g. `g`")
    a = ap.parse_args(argv)
    res: dict[str, dict] = {}
    if "g" in a.drills:  # in-process, no service: first, so it needs no wrk either
        res["g"] = drill_disk_full()
        print("  (g)", res["g"], flush=True)
    if not set(a.drills) & set("abcdef"):
        print_table(res)
        return 0
    if shutil.which("wrk") is None:
        print("reliability: needs the wrk load generator: apt-get install -y wrk", file=sys.stderr)
        return 2
    run = Path(tempfile.mkdtemp(prefix="reliability-"))
    b, day0 = Bench(run), datetime(2031, 1, 6, tzinfo=UTC)
    days = {k: day0 + timedelta(days=i) for i, k in enumerate("abce")}
    drills = {"a": lambda: drill_kill(b, days["a"], a.requests),
              "b": lambda: drill_store(b, days["b"], a.outage_s),
              "c": lambda: drill_registry(b, days["c"], a.outage_s), "d": lambda: drill_corrupt(b, days["a"]),
              "f": lambda: drill_schemathesis(b), "e": lambda: drill_sigterm(b, days["e"])}
    try:
        b.start()
        print(f"service {b.url}, registry {b.mlflow.url}, 2 replicas; drills:", flush=True)
        for key in "abcdfe":  # (d) reads (a)'s day; SIGTERM stops the service, so it goes last
            if key in a.drills:
                res[key] = drills[key]()
                print(f"  ({key})", res[key], flush=True)
    finally:
        b.stop()
    print_table(res)
    shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
