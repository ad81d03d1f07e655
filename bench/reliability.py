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
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from disk_full import drill_disk_full  # noqa: E402

from creditrisk.applicants.schema import EXAMPLE_APPLICANT  # noqa: E402
from creditrisk.store.local import LocalRequestStore
from creditrisk_app.processes import BIN, descendants, spawn_mlflow_server
from serving.runtime import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "credit_risk_dataset.csv"
TOKEN = "reliability-bench-token"
LUA = """
-- `ok` and `n` are globals: done() reads the thread's `ok` through thread:get, which sees no locals
local quota, t = tonumber(os.getenv("QUOTA")), nil
ok, n = 0, 0
local body = os.getenv("BODY")
wrk.method, wrk.body = "POST", body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Request-Time"] = os.getenv("DAY")
local ffi = require("ffi")
ffi.cdef("int kill(int pid, int sig); int getpid(void);")
function setup(thread) t = thread end
function response(status)
  n = n + 1
  if status == 200 then ok = ok + 1 end
  if quota > 0 and n == quota then wrk.thread:stop(); ffi.C.kill(ffi.C.getpid(), 2) end
end
function done(s, lat)
  local e = s.errors
  io.write(string.format('{"n":%d,"ok":%d,"errors":%d,"non2xx":%d,"s":%f}\\n', s.requests,
    t:get("ok"), e.connect + e.read + e.write + e.timeout, e.status, s.duration / 1e6))
end
"""


class Bench:
    """The service under test, its registry, and helpers to load it and read its state."""

    def __init__(self, run: Path) -> None:
        self.run, self.port = run, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mlflow = spawn_mlflow_server(f"sqlite:///{run / 'mlflow.db'}", run / "artifacts", free_port(),
                                          run / "mlflow.log")
        self.env = {**os.environ, "CREDITRISK_HOME": str(run / "home"),
                    "CREDITRISK_MLFLOW_URI": self.mlflow.url, "CREDITRISK_OUTCOMES_TOKEN": TOKEN,
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                    "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
        self.env.pop("CREDITRISK_ENV", None)
        self.serve: subprocess.Popen | None = None
        self.lua = run / "drill.lua"
        self.lua.write_text(LUA)
        self.store = LocalRequestStore(run / "home" / "requests")

    def start(self) -> None:
        self.mlflow.wait_ready(60)
        data = ["--data", str(DATA)] if DATA.is_file() else []
        subprocess.run([str(BIN / "creditrisk"), "bootstrap", *data], env=self.env, check=True,
                       capture_output=True)
        cmd = [str(BIN / "creditrisk"), "serve", "--port", str(self.port), "--min-replicas", "2",
               "--allow-client-time", "--reload-interval", "2"]
        self.serve = subprocess.Popen(cmd,
                                      env=self.env, stdout=(self.run / "serve.log").open("w"),
                                      stderr=subprocess.STDOUT, start_new_session=True)
        wait_ready(self.url, 180)
        wal, deadline = self.run / "home" / "wal", time.monotonic() + 120
        while not (wal.is_dir() and len([p for p in wal.iterdir() if p.name != "quarantine"]) >= 2):
            assert time.monotonic() < deadline, "two replicas did not start"
            time.sleep(0.5)

    def replicas(self) -> list[int]:
        assert self.serve is not None
        return [p for p in descendants(self.serve.pid)
                if b"ServeReplica:creditrisk" in _cmdline(p)]

    def load(self, day: datetime, conns: int = 32, requests: int = 0, seconds: int = 300) -> dict:
        env = {**os.environ, "QUOTA": str(requests), "BODY": json.dumps(EXAMPLE_APPLICANT),
               "DAY": day.isoformat()}
        cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", str(self.lua), f"{self.url}/predict"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["failed"] = r["n"] - r["ok"] + r["errors"]
        return r

    def logged(self, day: datetime, expect: int, timeout: float = 60) -> int:
        """Rows of `day` in the store once they stop growing towards `expect` (or the timeout)."""
        deadline, n = time.monotonic() + timeout, -1
        while time.monotonic() < deadline:
            n = self.store.count(day, day + timedelta(days=1))
            if n >= expect:
                break
            time.sleep(0.5)
        return n

    def ready(self) -> dict:
        """The whole /readyz (its details need the outcomes token)."""
        return httpx.get(f"{self.url}/readyz", timeout=5, headers={"Authorization": f"Bearer {TOKEN}"}).json()

    def stop(self) -> None:
        if self.serve is not None and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGTERM)
            self.serve.wait(timeout=120)
        self.mlflow.stop()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def watch(fn, stop: threading.Event, out: list) -> threading.Thread:  # noqa: ANN001 - a probe
    def loop() -> None:
        while not stop.is_set():
            try:
                out.append(fn())
            except Exception as exc:  # noqa: BLE001 - a failed probe is a data point
                out.append(exc)
            time.sleep(0.5)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def drill_kill(b: Bench, day: datetime, requests: int) -> dict:
    wal = b.run / "home" / "wal"
    owners = {p.name for p in wal.iterdir()}
    result: dict = {}
    load = threading.Thread(target=lambda: result.update(b.load(day, 32, requests)))
    load.start()
    time.sleep(3.0)
    os.kill(b.replicas()[0], signal.SIGKILL)
    killed, recovery = time.monotonic(), None
    while recovery is None and time.monotonic() - killed < 60:
        if {p.name for p in wal.iterdir()} - owners - {"quarantine"}:  # a new replica opened its log
            recovery = time.monotonic() - killed
        time.sleep(0.1)
    load.join()
    return {"failed": result["failed"], "answered": result["ok"], "logged": b.logged(day, result["ok"]),
            "recovery_s": recovery}


def drill_store(b: Bench, day: datetime, seconds: int) -> dict:
    folder = b.run / "home" / "requests"
    folder.mkdir(parents=True, exist_ok=True)
    folder.rename(folder.with_suffix(".aside"))
    folder.write_text("the store is unwritable")
    probes: list = []
    stop = threading.Event()
    probe = watch(b.ready, stop, probes)
    try:
        r = b.load(day, 32, 0, seconds)
    finally:
        folder.unlink()
        folder.with_suffix(".aside").rename(folder)
    stop.set()
    probe.join()
    ok = [p for p in probes if isinstance(p, dict)]
    return {"failed": r["failed"], "answered": r["ok"], "logged": b.logged(day, r["ok"], 120),
            "backlog_peak": max((p["request_log"]["backlog_rows"] for p in ok), default=0),
            "states": sorted({f"{p['status']}/store={p['store']['state']}" for p in ok})}


def drill_registry(b: Bench, day: datetime, seconds: int) -> dict:
    port = int(b.mlflow.url.rsplit(":", 1)[1])
    b.mlflow.stop()
    probes: list = []
    stop = threading.Event()
    probe = watch(b.ready, stop, probes)
    r = b.load(day, 32, 0, seconds)
    b.mlflow = spawn_mlflow_server(f"sqlite:///{b.run / 'mlflow.db'}", b.run / "artifacts", port,
                                   b.run / "mlflow.log").wait_ready(60)
    stop.set()
    probe.join()
    ok = [p for p in probes if isinstance(p, dict)]
    return {"failed": r["failed"], "answered": r["ok"], "logged": b.logged(day, r["ok"]),
            "states": sorted({f"{p['status']}/registry={p['registry']['state']}" for p in ok})}


def drill_corrupt(b: Bench, day: datetime) -> dict:
    rid = str(b.store.read_window(day, day + timedelta(days=1), columns=["request_id"])["request_id"].iloc[0])
    folder = b.run / "home" / "requests" / "requests" / f"date={day:%Y-%m-%d}"
    good = sorted(folder.glob("part-*.parquet"))[0]
    broken = folder / "part-99999999T000000000000-0-truncated.parquet"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    r = httpx.post(f"{b.url}/outcomes", json={"request_id": rid, "loan_status": 1}, timeout=30,
                   headers={"Authorization": f"Bearer {TOKEN}"})
    time.sleep(3)  # the shipper refreshes the quarantine count on its next pass
    return {"outcome_status": r.status_code, "quarantined": b.ready()["store"]["quarantined_files"]}


def drill_sigterm(b: Bench, day: datetime) -> dict:
    r = b.load(day, 32, 3000)
    time.sleep(0.1)
    assert b.serve is not None
    b.serve.send_signal(signal.SIGTERM)
    code = b.serve.wait(timeout=120)
    left = [p for p in descendants(b.serve.pid)]
    return {"failed": r["failed"], "answered": r["ok"], "logged": b.logged(day, r["ok"], 5), "exit": code,
            "left_running": len(left)}


def drill_schemathesis(b: Bench, examples: int = 100) -> dict:
    """Every operation fuzzed by schemathesis; the 5xx are counted from its HAR record of the calls."""
    har = b.run / "schemathesis.har"
    proc = subprocess.run([str(BIN / "schemathesis"), "run", f"{b.url}/openapi.json", "-n", str(examples),
                           "-c", "not_a_server_error", "-H", f"Authorization: Bearer {TOKEN}",
                           "--report", "har", "--report-har-path", str(har)],
                          capture_output=True, text=True, cwd=b.run)
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    if not entries:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return {"calls": len(entries), "5xx": sum(e["response"]["status"] >= 500 for e in entries),
            "exit": proc.returncode}


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
