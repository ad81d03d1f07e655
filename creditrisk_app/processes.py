"""Start and stop the local servers (Dagster, MLflow UI) as process groups on 127.0.0.1.

Used by the CLI and the tests. Each server runs in its own session so that stopping it stops
everything it spawned (`dagster dev` starts a webserver, a daemon and a code server).
"""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from creditrisk.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen
    log: Path
    ready_path: str = "/"
    first_signal: int = signal.SIGINT  # what its own Ctrl-C handling expects
    leader_first: bool = False  # first signal to the leader only: it stops its own children in order

    def wait_ready(self, timeout: float) -> Service:
        try:
            wait_http(f"{self.url}{self.ready_path}", self.proc, timeout, self.log)
        except RuntimeError:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """The forced stop: SIGKILL to the whole process group, at once."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is not None:
            return
        for i, sig in enumerate((self.first_signal, signal.SIGTERM, signal.SIGKILL)):
            try:
                if i == 0 and self.leader_first:
                    os.kill(self.proc.pid, sig)
                else:
                    os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue


class StopSignals:
    """SIGTERM and SIGINT for a foreground command: the first takes the graceful path, a second forces.

    The first signal raises KeyboardInterrupt in the main thread, so the command's `finally:` stops
    what it started, in order. Installed explicitly for both signals because a process started in
    the background by a script inherits SIGINT *ignored* (Python then installs no Ctrl-C handler)
    and because Kubernetes, systemd and `timeout` stop with SIGTERM. A second signal while stopping
    runs `force` (kill what is left) and exits at once.
    """

    def __init__(self, force: Callable[[], None] | None = None) -> None:
        self.force = force
        self.received = 0

    def install(self) -> StopSignals:
        """(Re-)install the handlers: call again after `ray.init()`, which replaces SIGTERM's."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.received += 1
        if self.received == 1:
            raise KeyboardInterrupt
        print(f"{signal.Signals(signum).name} again: forcing the stop", file=sys.stderr, flush=True)
        try:
            if self.force is not None:
                self.force()
        finally:
            os._exit(128 + signum)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, children first (read from /proc; Linux only)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_all(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def dagster_env(settings: Settings) -> dict[str, str]:
    """Environment for Dagster processes: the repo's dagster.yaml, state under CREDITRISK_HOME."""
    settings.ensure_dirs()
    return {**os.environ, "DAGSTER_HOME": str(REPO), "CREDITRISK_HOME": str(settings.home),
            "CREDITRISK_DAGSTER_STORAGE": str(settings.dagster_home)}


def wait_http(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            # A token-protected server (Ray's dashboard) answering 401/403 is up. A 404 is not: Ray
            # Serve's proxy answers "Path not found" before the application is deployed.
            if exc.code in (401, 403):
                return
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            pass  # not listening yet, or not speaking HTTP yet (a half-started server)
        time.sleep(0.5)
    raise RuntimeError(f"{url}: not answering after {timeout:.0f} s; see {log}")


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    out: IO[bytes] = log.open("ab")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def spawn_dagster(settings: Settings, port: int = 3000, extra_env: dict[str, str] | None = None) -> Service:
    """`dagster dev` (webserver + daemon: schedule and sensor run) on 127.0.0.1:port; not yet ready."""
    log = settings.home / "logs" / "dagster.log"
    cmd = [str(BIN / "dagster"), "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1",
           "-p", str(port)]
    proc = _spawn(cmd, {**dagster_env(settings), **(extra_env or {})}, log)
    return Service("dagster", f"http://127.0.0.1:{port}", proc, log, "/server_info")


def spawn_mlflow_ui(settings: Settings, port: int = 5000) -> Service:
    log = settings.home / "logs" / "mlflow.log"
    cmd = [str(BIN / "mlflow"), "ui", "--backend-store-uri", settings.mlflow_uri, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    # MLflow 3.17's UI starts seven job-queue workers (~250 MB each) for features this project never
    # uses; off, the demo's peak memory drops (figures in the README's tour).
    proc = _spawn(cmd, {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, log)
    # SIGTERM: on SIGINT its worker threads print a KeyboardInterrupt traceback while exiting.
    return Service("mlflow", f"http://127.0.0.1:{port}", proc, log, "/health", signal.SIGTERM)


def spawn_mlflow_server(backend_uri: str, artifacts: Path, port: int, log: Path,
                        auth_env: dict[str, str] | None = None) -> Service:
    """`mlflow server` with proxied artifacts on 127.0.0.1:port: clients reach it only by `http://`.

    With `auth_env` (basic-auth's config path, admin and secret key) it runs `--app-name basic-auth`.
    """
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts),
           *(["--app-name", "basic-auth"] if auth_env else [])]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(auth_env or {})}
    proc = _spawn(cmd, env, log)
    return Service("mlflow-server", f"http://127.0.0.1:{port}", proc, log, "/health", signal.SIGTERM)


def spawn_serving(settings: Settings, port: int, args: list[str], extra_env: dict[str, str]) -> Service:
    """`creditrisk serve` (Ray Serve: portal + API) as its own process group."""
    log = settings.home / "logs" / "serve.log"
    env = {**os.environ, "CREDITRISK_HOME": str(settings.home), **extra_env}
    proc = _spawn([str(BIN / "creditrisk"), "serve", "--port", str(port), *args], env, log)
    # SIGTERM to `creditrisk serve` alone: it ships its log and stops Ray and HAProxy itself;
    # signalling the whole group would stop Ray under it mid-shutdown.
    return Service("serve", f"http://127.0.0.1:{port}", proc, log, "/readyz", signal.SIGTERM, True)


def start_dagster(settings: Settings, port: int = 3000, timeout: float = 120.0) -> Service:
    return spawn_dagster(settings, port).wait_ready(timeout)
