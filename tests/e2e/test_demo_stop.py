"""`creditrisk demo` stopped by SIGTERM mid-run: the graceful path, exit 0, no server left behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serving.runtime import free_port

pytestmark = pytest.mark.slow


def started_with_home(home: Path) -> list[str]:
    """Live processes whose environment names this CREDITRISK_HOME (the demo's servers and theirs)."""
    marker = f"CREDITRISK_HOME={home}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append((environ.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue
    return found


def test_sigterm_mid_demo_stops_every_server_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "CREDITRISK_HOME": str(tmp_path)}
    env.pop("CREDITRISK_DATA", None)
    cmd = [str(Path(sys.executable).parent / "creditrisk"), "demo", "--weeks", "6", "--drift-week", "4",
           "--requests-per-week", "300", "--port", str(free_port()), "--dagster-port", str(free_port()),
           "--mlflow-port", str(free_port()), "--prometheus-port", str(free_port())]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the servers answer and the weeks begin
        lines.append(line)
        if "[phase] start services" in line or time.monotonic() > deadline:
            break
    assert any("[phase] start services" in line for line in lines), "".join(lines)
    time.sleep(3)  # into the first week's traffic
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    out = "".join(lines) + rest
    assert proc.returncode == 0, out
    assert "[demo] stopping" in out and "Traceback" not in out
    assert started_with_home(tmp_path) == [], out
