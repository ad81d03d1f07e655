"""/predict speed of two commits of this repository, alternating, with and without fsync, one run.

Usage: python bench/commits_bench.py --old REV --new REV [--rounds 5] [--requests-c1 4000]
       [--requests-c32 16000] [--fsync both|off|on]
Each commit is checked out into a temporary git worktree; its service (one replica, fast path, a
local WAL with fsync off, then on) runs in a child process that imports that worktree's code first
(PYTHONPATH), with this venv's packages. Rounds alternate old and new (old-new, then new-old, ...)
so a drift of the machine's load hits both alike; each start settles, then wrk (serve_bench.py's
closed loop) measures c=1 p50 and c=32 throughput. With fsync, each commit's request log is also
timed alone in process (1 and 32 callers, no Ray). Prints every run, the median of the rounds'
paired changes, and the medians per commit and fsync mode against issue 19's floor (which decides
pass or fail): the new commit within 10% of the old on both figures. Needs Debian's `wrk`. Not part of CI.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_bench import (  # noqa: E402 - a sibling script
    REPO,
    SETTLE_S,
    in_turn,
    measure,
    needs_wrk,
    paired_change,
    wrk_inputs,
)

MAX_CHANGE = 0.10  # issue 19: p50 and throughput within 10% of the previous commit's
SERVE = """
import sys
from serving.config import ServiceArgs
from serving.runtime import LocalService
args = ServiceArgs.model_validate_json(sys.argv[1])
service = LocalService(args, int(sys.argv[2])).start()
print("ready", flush=True)
sys.stdin.read()  # until the bench closes it
service.stop()
"""
# The request log alone, in the tree's code: a fsync'ed WAL, its shipper to a local store, and
# `conns` callers recording rows for `seconds`; prints the p50 of record() and the rows per second.
LOG = """
import asyncio, shutil, sys, tempfile, time
from datetime import datetime, timezone
from pathlib import Path
from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import new_request_id
from serving.logger import InferenceLogger
from serving.wal import SegmentLog

async def main(seconds, conns):
    home = Path(tempfile.mkdtemp(prefix="commits-bench-log-"))
    wal = SegmentLog(home / "wal", "o", fsync=True)
    log = InferenceLogger(lambda: LocalRequestStore(home / "store"), wal)
    log.start()
    took, end = [], time.monotonic() + seconds
    async def caller():
        while time.monotonic() < end:
            row = {**EXAMPLE_APPLICANT, "request_id": new_request_id(), "ts": datetime.now(timezone.utc),
                   "probability": 0.5, "prediction": 1, "decision": "denied", "threshold": 0.4,
                   "model_name": "m", "model_version": "1", "reasons": "[]", "latency_ms": 1.0}
            t = time.perf_counter()
            await log.record(row)
            took.append(time.perf_counter() - t)
    await asyncio.gather(*(caller() for _ in range(conns)))
    await log.close()
    took.sort()
    shutil.rmtree(home, ignore_errors=True)
    print(took[len(took) // 2] * 1e3, len(took) / seconds)

asyncio.run(main(float(sys.argv[1]), int(sys.argv[2])))
"""
LOG_SECONDS = 6.0


def log_alone(tree: Path, conns: int) -> tuple[float, float]:
    """p50 of one record() in ms, and rows per second, of `tree`'s request log with fsync."""
    out = subprocess.run([sys.executable, "-c", LOG, str(LOG_SECONDS), str(conns)], cwd=tree, check=True,
                         env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    p50, rate = out.stdout.split()[-2:]
    return float(p50), float(rate)


def serve(tree: Path, args_json: str, port: int) -> subprocess.Popen[str]:
    """A service of `tree`'s code, answering once this returns; stopped by closing its stdin."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, args_json, str(port)], cwd=tree, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the service of {tree} did not start")
    return proc


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests-c1", type=int, default=4000)
    ap.add_argument("--requests-c32", type=int, default=16000)
    ap.add_argument("--fsync", choices=("both", "off", "on"), default="both",
                    help="which WAL modes to measure (one mode: twice the rounds in the same time)")
    a = ap.parse_args(argv)
    if needs_wrk("commits_bench"):
        return 2
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from serving.config import ServiceArgs
    from serving.runtime import free_port

    modes = {"both": (False, True), "off": (False,), "on": (True,)}[a.fsync]
    run, lua, bodies, uri, _ = wrk_inputs("commits-bench-")
    trees = {rev: run / f"tree-{i}" for i, rev in enumerate((a.old, a.new))}
    for rev, tree in trees.items():
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=REPO, check=True)
    print(f"load avg {os.getloadavg()[0]:.2f}; old {a.old}, new {a.new}; {a.rounds} rounds", flush=True)
    figures: dict[tuple[str, bool], dict[str, list[float]]] = {}
    try:
        for i in range(a.rounds):
            for fsync in modes:
                for rev, tree in in_turn(i, tuple(trees.items())):
                    name = f"{'new' if rev == a.new else 'old'}{'+fsync' if fsync else ''}-{i}"
                    args = ServiceArgs(mlflow_uri=uri, store_dir=str(run / f"store-{name}"),
                                       wal_dir=str(run / f"wal-{name}"), wal_fsync=fsync, max_replicas=1)
                    port = free_port()
                    proc = serve(tree, args.model_dump_json(exclude_unset=True), port)  # what both know
                    try:
                        r = measure(name, f"http://127.0.0.1:{port}", lua, bodies, a.requests_c1,
                                    a.requests_c32, settle_s=SETTLE_S)
                    finally:
                        assert proc.stdin is not None
                        proc.stdin.close()
                        proc.wait(timeout=120)
                    got = figures.setdefault((rev, fsync), {"p50": [], "rps": []})
                    got["p50"].append(r["c1"]["p50"])
                    got["rps"].append(r["c32"]["rps"])
        if True in modes:  # the log alone, without Ray's start-to-start spread: what the code changed
            alone: dict[tuple[str, int], list[tuple[float, float]]] = {}
            for i in range(a.rounds):
                for rev, tree in in_turn(i, tuple(trees.items())):
                    for conns in (1, 32):
                        alone.setdefault((rev, conns), []).append(log_alone(tree, conns))
            for conns in (1, 32):
                old_log, new_log = alone[(a.old, conns)], alone[(a.new, conns)]
                print(f"log alone, fsync, {conns} callers: record() p50 old "
                      f"{statistics.median(p for p, _ in old_log):.3f} ms, new "
                      f"{statistics.median(p for p, _ in new_log):.3f} ms; old "
                      f"{statistics.median(r for _, r in old_log):.0f} rows/s, new "
                      f"{statistics.median(r for _, r in new_log):.0f} rows/s (medians of {a.rounds})")
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
        shutil.rmtree(run, ignore_errors=True)
    ok = True
    for fsync in modes:
        old, new = figures[(a.old, fsync)], figures[(a.new, fsync)]
        p50 = [statistics.median(old["p50"]), statistics.median(new["p50"])]
        rps = [statistics.median(old["rps"]), statistics.median(new["rps"])]
        passed = p50[1] <= p50[0] * (1 + MAX_CHANGE) and rps[1] >= rps[0] * (1 - MAX_CHANGE)
        ok = ok and passed
        mode = "fsync" if fsync else "no fsync"
        print(f"{mode:<8} paired (median of the rounds' new/old changes): c1 p50 "
              f"{paired_change(old['p50'], new['p50']):+.1%}, c32 throughput "
              f"{paired_change(old['rps'], new['rps']):+.1%}")
        print(f"{mode:<8} medians: c1 p50 old {p50[0]:.3f} ms, new {p50[1]:.3f} ms "
              f"({p50[1] / p50[0] - 1:+.1%}); c32 old {rps[0]:.0f} req/s, new {rps[1]:.0f} req/s "
              f"({rps[1] / rps[0] - 1:+.1%}); floor 10%: {'pass' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
