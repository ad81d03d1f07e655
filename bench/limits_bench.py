"""Issue 22: what the per-client rate limit costs on the serving path, limits off vs on, alternating.

Usage: python bench/limits_bench.py [--pairs 3] [--requests-c1 3000] [--requests-c32 15000]
Needs Debian's `wrk`. The bare uvicorn baseline of bench/serve_bench.py first, then `--pairs` pairs
of service runs (the local default: write-ahead log, no fsync), limits off and on, each started
afresh, the order swapped every pair so neither side always runs second. "On" is a figure wrk never
reaches (10 million a minute), so every request pays the whole check (its client address through
HAProxy's X-Forwarded-For, a bucket, the middleware) and none is refused. Prints every run, the
medians and their ratio (issue 22's bar: within 5%), and the check's own cost in-process.
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
from serve_bench import measure, needs_wrk, wrk_inputs  # noqa: E402

ON = {"enabled": True, "requests_per_minute": 10_000_000, "burst": 1_000_000}


def check_cost_us(n: int = 50_000) -> float:
    """The middleware's own time per request in-process (a client behind HAProxy, nothing refused)."""
    import asyncio
    import time

    from serving.config import RateLimit
    from serving.limits import ClientRateLimit

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    limit = ClientRateLimit(app, RateLimit(**ON))  # type: ignore[arg-type]
    scope = {"type": "http", "path": "/predict", "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"application/json"), (b"x-forwarded-for", b"127.0.0.2")]}

    async def run() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await limit(scope, None, None)  # type: ignore[arg-type]
        return (time.perf_counter() - t0) / n * 1e6

    return min(asyncio.run(run()) for _ in range(3))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--requests-c1", type=int, default=3000)
    ap.add_argument("--requests-c32", type=int, default=15000)
    a = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if needs_wrk("limits_bench"):
        return 2
    from serving.config import ServiceArgs
    from serving.runtime import LocalService, free_port, wait_ready

    run, lua, bodies, uri, n_bodies = wrk_inputs("limits-bench-")
    print(f"load avg {os.getloadavg()[0]:.2f}; {n_bodies} applicant bodies", flush=True)
    port = free_port()
    serve_bench = Path(__file__).resolve().parent / "serve_bench.py"
    proc = subprocess.Popen([sys.executable, str(serve_bench), "--baseline-server", str(port),
                             "--mlflow-uri", uri])
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout_s=60)
        base = measure("baseline", f"http://127.0.0.1:{port}", lua, bodies, a.requests_c1, a.requests_c32)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for i in range(a.pairs):
        for name in ("off", "on") if i % 2 == 0 else ("on", "off"):  # no side always second
            args = ServiceArgs(mlflow_uri=uri, store_dir=str(run / f"store-{i}-{name}"),
                               wal_dir=str(run / f"wal-{i}-{name}"), max_replicas=1,
                               rate_limit=ON if name == "on" else {"enabled": False})
            with LocalService(args, free_port()) as service:
                wait_ready(service.base_url)
                runs[name].append(measure(f"{name}#{i + 1}", service.base_url, lua, bodies, a.requests_c1,
                                          a.requests_c32))
    shutil.rmtree(run, ignore_errors=True)
    medians = {name: {"c1 p50 ms": statistics.median(r["c1"]["p50"] for r in rs),
                      "c1 p99 ms": statistics.median(r["c1"]["p99"] for r in rs),
                      "c32 req/s": statistics.median(r["c32"]["rps"] for r in rs),
                      "errors": sum(r[k]["err"] + r[k]["non2xx"] for r in rs for k in ("c1", "c32"))}
               for name, rs in runs.items()}
    print(f"\nmedians of {a.pairs} runs each (baseline, same run: c1 p50 {base['c1']['p50']:.2f} ms, "
          f"c32 {base['c32']['rps']:.0f} req/s)")
    for key in ("c1 p50 ms", "c1 p99 ms", "c32 req/s", "errors"):
        off, on = medians["off"][key], medians["on"][key]
        ratio = f"{on / off:.3f}x" if off else "-"
        print(f"  {key:<10} off {off:9.2f}   on {on:9.2f}   on/off {ratio}")
    cost = check_cost_us()
    share = cost / 10 / medians["off"]["c1 p50 ms"]  # us against ms, in percent
    print(f"  the check in-process: {cost:.1f} us per request, {share:.2f}% of the c1 p50 with limits off")
    p50 = medians["on"]["c1 p50 ms"] / medians["off"]["c1 p50 ms"]
    rps = medians["on"]["c32 req/s"] / medians["off"]["c32 req/s"]
    ok = p50 <= 1.05 and rps >= 0.95 and medians["on"]["errors"] == medians["off"]["errors"] == 0
    print(f"within 5% (c1 p50 {p50:.3f}x <= 1.05, c32 req/s {rps:.3f}x >= 0.95, no errors): "
          f"{'pass' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
