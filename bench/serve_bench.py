"""Serving benchmark: the Ray Serve service against a bare uvicorn app with the same model, one run.

Usage: python bench/serve_bench.py [--requests-c1 3000] [--requests-c32 15000] [--no-scaling]
Needs Debian's `wrk` (apt-get install -y wrk) as the load generator: a closed loop in its own
process, a fixed number of requests per phase (after a warm-up), applicants cycled from a sample
of the base data so approvals and denials (reason codes) mix as in real traffic. Prints p50/p95/
p99, throughput and errors per phase, the ratios to the baseline, the floors, the settings, and a
timeline of the predictor scaling to 2 replicas under sustained load and back to 1.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from creditrisk.applicants.schema import (
    Applicant,  # module level: FastAPI resolves the baseline's annotations here
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "credit_risk_dataset.csv"
# wrk has no request-count mode: at the quota the script stops its thread and sends wrk SIGINT,
# which wrk handles by ending the run and reporting (its -d duration is only the upper bound).
WRK_LUA = """
local ffi = require("ffi")
ffi.cdef("int kill(int pid, int sig); int getpid(void);")
local bodies, n, quota = {}, 0, tonumber(os.getenv("BENCH_REQUESTS"))
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function() i = i % #bodies + 1; return wrk.format(nil, nil, nil, bodies[i]) end
response = function(status)
  n = n + 1
  if n == quota then wrk.thread:stop(); ffi.C.kill(ffi.C.getpid(), 2) end
end
done = function(s, lat)
  local e = s.errors
  io.write(string.format('{"p50":%f,"p95":%f,"p99":%f,"n":%d,"s":%f,"err":%d,"non2xx":%d}\\n',
    lat:percentile(50) / 1000, lat:percentile(95) / 1000, lat:percentile(99) / 1000, s.requests,
    s.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def wrk(url: str, lua: Path, bodies: Path, conns: int, requests: int, duration_s: int = 300) -> dict:
    env = {**os.environ, "BENCH_BODIES": str(bodies), "BENCH_REQUESTS": str(requests)}
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{duration_s}s", "-s", str(lua), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["rps"] = r["n"] / r["s"]
    return r


# After a start Ray's agents finish their own start-up on these 2 cores, and the page cache writes
# back what the previous run left dirty (which slowed the fsync runs that followed no-fsync ones).
SETTLE_S = 5.0


def measure(name: str, base: str, lua: Path, bodies: Path, n1: int, n32: int,
            settle_s: float = 0.0) -> dict[str, dict]:
    url = f"{base}/predict"
    if settle_s:
        os.sync()
        time.sleep(settle_s)
    res = {"warm-up": wrk(url, lua, bodies, 8, 500)}  # connections, batch queue, allocator
    res.update({"c1": wrk(url, lua, bodies, 1, n1), "c32": wrk(url, lua, bodies, 32, n32)})
    for key, r in list(res.items())[1:]:
        print(f"{name:<10} {key:<4} p50 {r['p50']:6.2f} ms  p95 {r['p95']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
              f"{r['rps']:7.0f} req/s  n={r['n']}  errors={r['err'] + r['non2xx']}", flush=True)
    return res


def make_registry(run: Path) -> tuple[str, list[str]]:
    """A temp MLflow with a champion trained on the base data; and request bodies sampled from it."""
    from creditrisk import wiring
    from creditrisk.applicants.data import load_base_data
    from creditrisk.applicants.schema import FEATURES
    from creditrisk.settings import get_settings
    from creditrisk.training.run import train_and_register

    uri = f"sqlite:///{run / 'mlflow.db'}"
    raw, clean, _ = load_base_data(DATA if DATA.is_file() else None, rows=20_000)
    changes = wiring.make_changes(get_settings({"CREDITRISK_MLFLOW_URI": uri}))
    version = train_and_register(changes.registry, raw, clean, run_name="serve-bench", source="bench").version
    changes.bootstrap(version, actor="bench", reason="serve bench", forced=False)
    sample = clean[FEATURES].dropna().sample(400, random_state=0).to_dict("records")
    return uri, [json.dumps({k: (int(v) if k == "person_age" else v) for k, v in r.items()}) for r in sample]


def in_turn(i: int, pair: tuple[Any, Any]) -> tuple[Any, Any]:
    """Round `i`'s order of an A/B pair: AB, BA, AB, ..., so a drift of the machine's load within
    a round does not always favour the side that runs first."""
    return pair if i % 2 == 0 else (pair[1], pair[0])


def paired_change(a: list[float], b: list[float]) -> float:
    """Median over rounds of b/a - 1: each round's two runs share the machine's state of the moment,
    so this is steadier than comparing the two sides' medians when the machine drifts."""
    return statistics.median(y / x - 1 for x, y in zip(a, b, strict=True))


def needs_wrk(bench: str) -> bool:
    """True (and says how to install it) when Debian's wrk load generator is missing."""
    if shutil.which("wrk") is None:
        print(f"{bench}: needs the wrk load generator: apt-get install -y wrk", file=sys.stderr)
        return True
    return False


def wrk_inputs(prefix: str) -> tuple[Path, Path, Path, str, int]:
    """A temp folder with wrk's script, request bodies and a registry holding a champion trained on
    the base data: (folder, script, bodies, registry URI, number of bodies)."""
    run = Path(tempfile.mkdtemp(prefix=prefix))
    lua, bodies = run / "bench.lua", run / "bodies.jsonl"
    lua.write_text(WRK_LUA)
    uri, sample = make_registry(run)
    bodies.write_text("\n".join(sample) + "\n")
    return run, lua, bodies, uri, len(sample)


def baseline_server(port: int, uri: str) -> None:
    """The baseline: one uvicorn process, FastAPI, the same model, validation and reasons, no Ray."""
    import uvicorn
    from fastapi import FastAPI

    from creditrisk.model.explain import reason_codes
    from creditrisk.registry.client import Registry

    model = Registry(uri).load("champion").model
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready"}

    @app.post("/predict")
    async def predict(applicant: Applicant) -> dict:
        X = model.spec.encode_rows([applicant.to_row()])
        proba = model.predict_proba(X)
        denied = int(model.predict(proba)[0])
        return {"prediction": denied, "probability_of_default": float(proba[0]),
                "reasons": reason_codes(model, X)[0] if denied else []}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def replicas() -> int:
    from ray import serve
    from ray.serve.schema import ReplicaState

    from serving.config import APP_NAME, DEPLOYMENT_NAME
    dep = serve.status().applications[APP_NAME].deployments[DEPLOYMENT_NAME]
    return int(dep.replica_states.get(ReplicaState.RUNNING, 0))


def scaling_demo(base: str, lua: Path, bodies: Path, load_s: int, timeout_s: float) -> int:
    print(f"\nscaling: closed loop c=32 for {load_s} s, then idle; RUNNING replicas every second", flush=True)
    env = {**os.environ, "BENCH_BODIES": str(bodies), "BENCH_REQUESTS": "0"}
    load = subprocess.Popen(["wrk", "-t1", "-c32", f"-d{load_s}s", "-s", str(lua), f"{base}/predict"],
                            env=env, stdout=subprocess.PIPE, text=True)
    t0, timeline, up_at, down_at = time.monotonic(), [], None, None
    while time.monotonic() - t0 < load_s + timeout_s:
        t, n = time.monotonic() - t0, replicas()
        timeline.append(f"{t:.0f}s:{n}")
        up_at = up_at if up_at is not None or n < 2 else t
        if up_at is not None and load.poll() is not None and n == 1:
            down_at = t
            break
        time.sleep(1)
    r = json.loads(load.communicate()[0].strip().splitlines()[-1])
    print("  " + " ".join(timeline))
    print(f"  up to 2 replicas at {up_at if up_at is None else round(up_at)} s; back to 1 at "
          f"{down_at if down_at is None else round(down_at)} s (load ended at {load_s} s); during the load: "
          f"{r['n'] / r['s']:.0f} req/s, p99 {r['p99']:.1f} ms, errors {r['err'] + r['non2xx']}", flush=True)
    return int(r["n"])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests-c1", type=int, default=3000)
    ap.add_argument("--requests-c32", type=int, default=15000)
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--baseline-server", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mlflow-uri", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if needs_wrk("serve_bench"):
        return 2
    if a.baseline_server:
        baseline_server(a.baseline_server, a.mlflow_uri)
        return 0
    from serving.config import ServiceArgs
    from serving.runtime import FAST_PATH_ENV, LocalService, free_port, wait_ready

    run, lua, bodies, uri, n_bodies = wrk_inputs("serve-bench-")
    print(f"load avg {os.getloadavg()[0]:.2f}; {n_bodies} applicant bodies; wrk closed loop, 1 thread",
          flush=True)

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(port), "--mlflow-uri", uri])
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout_s=60)
        base = measure("baseline", f"http://127.0.0.1:{port}", lua, bodies, a.requests_c1, a.requests_c32)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    results, logged, answered, args = {}, {}, {}, ServiceArgs()
    for fsync in (False, True):  # local default, then production's (each answer waits for an fsync)
        name = "wal+fsync" if fsync else "wal"
        store = run / f"store-{name}"
        args = ServiceArgs(mlflow_uri=uri, store_dir=str(store), wal_dir=str(run / f"wal-{name}"),
                           wal_fsync=fsync, downscale_delay_s=10.0)
        service = LocalService(args, free_port())
        service.start()
        try:
            wait_ready(service.base_url)
            results[name] = measure(name, service.base_url, lua, bodies, a.requests_c1, a.requests_c32)
            answered[name] = sum(r["n"] for r in results[name].values())
            if not a.no_scaling and not fsync:
                answered[name] += scaling_demo(service.base_url, lua, bodies, load_s=25,
                                               timeout_s=args.downscale_delay_s + 40)
        finally:
            service.stop()  # replicas ship their write-ahead logs on the way down

        from creditrisk.store.local import LocalRequestStore
        logged[name] = LocalRequestStore(store).count()
    shutil.rmtree(run, ignore_errors=True)
    print("\nrequest log rows after shutdown: " + "; ".join(
        f"{k} {logged[k]:,} (answers counted by wrk {answered[k]:,})" for k in results)
        + "\n(wrk stops counting at its quota while a few answered requests are still in flight)")
    ok = True
    for name, ours in results.items():
        c1, r32 = ours["c1"]["p50"], ours["c32"]["rps"] / base["c32"]["rps"]
        errors = sum(r["err"] + r["non2xx"] for k, r in ours.items() if k != "warm-up")
        passed = c1 <= 2.5 and r32 >= 1.0 and errors == 0 and logged[name] >= answered[name]
        ok = ok and passed
        print(f"{name:<10} ratios to baseline: c1 p50 {c1 / base['c1']['p50']:.2f}x, c1 req/s "
              f"{ours['c1']['rps'] / base['c1']['rps']:.2f}x, c32 req/s {r32:.2f}x; floors: c1 p50 "
              f"{c1:.2f} ms <= 2.5 ms, c32 {r32:.2f}x >= 1.0x, errors {errors} == 0, logged >= answered: "
              f"{'pass' if passed else 'FAIL'}")
    settings = {**{k: os.environ.get(k, v) for k, v in FAST_PATH_ENV.items()}, **args.predictor.model_dump(),
                **args.autoscaling_config(), "max_ongoing_requests": args.max_ongoing_requests,
                "replica_num_cpus": args.replica_num_cpus, "flush_interval_s": args.flush_interval_s,
                "wal": "on (both rows)"}
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
