"""What the replica's exported metrics cost: /predict with metrics on against metrics off, one run.

Usage: python bench/metrics_bench.py [--rounds 3] [--requests-c1 2000] [--requests-c32 8000]
The service (one replica, fast path, local WAL without fsync) is started with `metrics` off and on
alternately, `--rounds` times each, so a drift of the machine's load hits both sides alike; each
start is measured with wrk (serve_bench.py's closed loop) at c=1 (p50) and c=32 (throughput). Prints
every run, the medians of each side, and the floors of issue 20: metrics cost at most 5% of c=32
throughput and 0.1 ms of c=1 p50. Needs Debian's `wrk`. Not part of CI.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_bench import WRK_LUA, make_registry, measure  # noqa: E402 - a sibling script, not a package

MAX_THROUGHPUT_LOSS = 0.05  # issue 20's floor: metrics cost at most 5% of c=32 throughput
MAX_P50_ADDED_MS = 0.1  # and at most 0.1 ms of c=1 p50


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests-c1", type=int, default=2000)
    ap.add_argument("--requests-c32", type=int, default=8000)
    a = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("metrics_bench: needs the wrk load generator: apt-get install -y wrk", file=sys.stderr)
        return 2
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from serving.config import ServiceArgs
    from serving.runtime import LocalService, free_port, wait_ready

    run = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    lua, bodies = run / "bench.lua", run / "bodies.jsonl"
    lua.write_text(WRK_LUA)
    uri, sample = make_registry(run)
    bodies.write_text("\n".join(sample) + "\n")
    print(f"load avg {os.getloadavg()[0]:.2f}; {a.rounds} rounds of metrics off, then on", flush=True)
    p50: dict[bool, list[float]] = {False: [], True: []}
    rps: dict[bool, list[float]] = {False: [], True: []}
    try:
        for i in range(a.rounds):
            for on in (False, True):
                name = f"{'on' if on else 'off'}-{i}"
                args = ServiceArgs(mlflow_uri=uri, store_dir=str(run / f"store-{name}"),
                                   wal_dir=str(run / f"wal-{name}"), wal_fsync=False, max_replicas=1,
                                   metrics=on)
                service = LocalService(args, free_port(), metrics_port=free_port())
                service.start()
                try:
                    wait_ready(service.base_url)
                    r = measure(f"metrics {name}", service.base_url, lua, bodies, a.requests_c1,
                                a.requests_c32)
                finally:
                    service.stop()
                p50[on].append(r["c1"]["p50"])
                rps[on].append(r["c32"]["rps"])
    finally:
        shutil.rmtree(run, ignore_errors=True)
    off_p50, on_p50 = statistics.median(p50[False]), statistics.median(p50[True])
    off_rps, on_rps = statistics.median(rps[False]), statistics.median(rps[True])
    loss, added = 1 - on_rps / off_rps, on_p50 - off_p50
    ok = loss <= MAX_THROUGHPUT_LOSS and added <= MAX_P50_ADDED_MS
    print(f"\nmedians: c1 p50 off {off_p50:.3f} ms, on {on_p50:.3f} ms (+{added:.3f} ms, floor "
          f"{MAX_P50_ADDED_MS} ms); c32 off {off_rps:.0f} req/s, on {on_rps:.0f} req/s ({loss:+.1%} lost, "
          f"floor {MAX_THROUGHPUT_LOSS:.0%}): {'pass' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
