"""The service the reliability drills run against: an `mlflow server` registry and `creditrisk serve`
with two replicas, started as an operator would, with wrk to load it and probes to watch it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
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
