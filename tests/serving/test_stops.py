"""`creditrisk serve` as an operator runs it: a replica killed under load, SIGTERM, a restart on the
same port (a second service on that port refused while it starts), Ctrl-C from a script that
ignores SIGINT. Nothing it started may outlive it. One test, as each Ray start costs ~20 s."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from serving.runtime import free_port

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def in_session(sid: int) -> dict[int, str]:
    """Live processes of session `sid` (the serve command runs in its own): pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")\
                    .decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return found


def serve(home: Path, port: int, registry_uri: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "CREDITRISK_HOME": str(home), "CREDITRISK_MLFLOW_URI": registry_uri}
    env.pop("CREDITRISK_ENV", None)

    def ignore_sigint() -> None:  # as for any command a script starts in the background
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen([str(BIN / "creditrisk"), "serve", "--port", str(port), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=ignore_sigint)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def replicas(sid: int) -> list[int]:
    return sorted(p for p, cmd in in_session(sid).items() if "ServeReplica:creditrisk" in cmd)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for sid_file in tmp_path.glob("sid-*"):  # a failed test must not leave a service behind
        sid = int(sid_file.name[4:])
        for pid in in_session(sid):
            os.kill(pid, signal.SIGKILL)


def test_kill_a_replica_then_sigterm_then_restart_on_the_same_port(home: Path, registry, champion,
                                                                   served) -> None:
    """With another service on this machine (`served`): Serve's fallback proxies of both once shared
    port 8500 by SO_REUSEPORT, so while a replica was down requests went to the other service."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = serve(home, port, registry.tracking_uri, "--min-replicas", "2")
    (home / f"sid-{proc.pid}").touch()
    wait_ready(url, proc)
    answered, failed, why = 0, 0, []
    with httpx.Client(base_url=url, timeout=10) as client:
        def send(n: int) -> None:
            nonlocal answered, failed
            for _ in range(n):
                try:
                    r = client.post("/predict", json=EXAMPLE_APPLICANT)
                    answered, failed = answered + (r.status_code == 200), failed + (r.status_code != 200)
                    if r.status_code != 200:
                        why.append(f"{time.monotonic() - t0:.2f} s: {r.status_code} {r.text[:120]}")
                except httpx.HTTPError as exc:
                    failed += 1
                    why.append(f"{time.monotonic() - t0:.2f} s: {type(exc).__name__} {exc}")

        t0 = time.monotonic()
        send(20)
        deadline = time.monotonic() + 60
        while len(replicas(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        victims = replicas(proc.pid)
        assert len(victims) == 2
        os.kill(victims[0], signal.SIGKILL)
        killed_at = time.monotonic()
        send(40)  # the other replica answers; at most the request in flight on the dead one fails
        while len(set(replicas(proc.pid)) - set(victims)) < 1 and time.monotonic() - killed_at < 30:
            time.sleep(0.2)
        replaced_s = time.monotonic() - killed_at
        send(20)
    assert failed <= 1 and answered >= 79, (f"replica killed at {killed_at - t0:.2f} s", why)
    assert replaced_s <= 10, f"no new replica after {replaced_s:.1f} s"
    time.sleep(0.5)  # the last answer left; the stop must still ship it
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "stopping" in out and "stopped" in out and "SIGTERM received" not in out
    assert in_session(proc.pid) == {}, "processes outlived `creditrisk serve` (HAProxy after a reload?)"
    assert LocalRequestStore(home / "requests").count() == answered  # the killed replica's rows too
    assert list((home / "wal").rglob("*.jsonl")) == []

    again = serve(home, port, registry.tracking_uri)  # the port is free again
    (home / f"sid-{again.pid}").touch()
    second_service_is_refused(home, port, registry.tracking_uri, again)
    wait_ready(url, again)
    assert httpx.post(f"{url}/predict", json=EXAMPLE_APPLICANT, timeout=10).status_code == 200
    again.send_signal(signal.SIGINT)  # Ctrl-C, though its parent started it with SIGINT ignored
    out, _ = again.communicate(timeout=90)
    assert again.returncode == 0 and "stopped" in out, out
    assert in_session(again.pid) == {}
    assert LocalRequestStore(home / "requests").count() == answered + 1


def second_service_is_refused(home: Path, port: int, registry_uri: str, first: subprocess.Popen) -> None:
    """Two services started on one port within Ray's ~20 s start both passed the listener check, and
    the second died ~20 s later with a Ray traceback (HAProxy binds with SO_REUSEPORT, so the bind
    itself refuses nothing). The second now stops at once, saying why."""
    assert first.stdout is not None
    while "starting Ray" not in (line := first.stdout.readline()):  # the claim is taken right after
        assert line, "the first service ended before starting"
    second = serve(home / "second", port, registry_uri)
    (home / f"sid-{second.pid}").touch()
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 2, out
    assert f"port {port} on 127.0.0.1 is taken by another creditrisk service" in out
