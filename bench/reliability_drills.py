"""The reliability drills (a) to (f): each puts one fault on the running service and returns what it cost."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import httpx
from reliability_service import TOKEN, Bench, watch

from creditrisk_app.processes import BIN, descendants, spawn_mlflow_server


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
