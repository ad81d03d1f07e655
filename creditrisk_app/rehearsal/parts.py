"""The production parts, run on loopback with throwaway state: Postgres, the BigQuery emulator,
a two-node Ray cluster, and Dagster's webserver and daemon.

Each part starts as its own process group (so its stop reaches everything it spawned), binds
127.0.0.1 (the Ray worker node 127.0.0.2), and writes its log under the rehearsal's folder.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from creditrisk_app.processes import BIN, REPO, Service, _spawn, descendants, kill_all
from serving.runtime import free_port

BQEMU_PYTHON = REPO / ".venv-bqemu" / "bin" / "python"
BQEMU_LAUNCHER = REPO / "tests" / "bqemu" / "launcher.py"
# Loopback addresses as the nodes' own hosts: Ray replaces 127.0.0.1 itself by the machine's
# reachable address, so the head takes 127.0.0.2 and the worker 127.0.0.3.
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


class PartMissing(RuntimeError):
    """A part the rehearsal needs is not installed; the message says how to install it."""


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise PartMissing("PostgreSQL is not installed: run `make rehearse-setup` "
                          "(`make rehearse` and `make test` do)")
    return str(found[-1])


class PgCluster:
    """A throwaway PostgreSQL cluster (Debian's package) on 127.0.0.1, as an unprivileged user.

    initdb refuses to run as root, so as root the cluster runs as `postgres`, in a temp folder, on
    a free port, its socket in that folder; `stop()` removes everything. It stands in for Cloud SQL.
    """

    def __init__(self) -> None:
        # Its own top-level temp folder: the cluster's user must reach it, and the caller's may be 0700.
        self.dir = Path(tempfile.mkdtemp(prefix="creditrisk-pg-"))
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self._as, *cmd], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {out.stderr[-1500:]}")

    def start(self) -> PgCluster:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")
        data = str(self.dir / "data")
        self._run(_pg_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self._run(_pg_bin("pg_ctl"), "-D", data, "-l", str(self.dir / "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -F", "start")
        return self

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        try:
            self._run(_pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def start_bigquery_emulator(folder: Path) -> Service:
    """bqemulator (the BigQuery REST API over DuckDB) from its own venv; it stands in for BigQuery."""
    if not BQEMU_PYTHON.exists():
        raise PartMissing(f"the BigQuery emulator venv is missing ({BQEMU_PYTHON}): "
                          "run `make rehearse-setup` (`make rehearse` and `make test` do)")
    port = free_port()
    env = {**os.environ, "NO_GCE_CHECK": "true", "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    proc = _spawn([str(BQEMU_PYTHON), str(BQEMU_LAUNCHER), "--port", str(port)], env, folder / "bqemu.log")
    return Service("bigquery-emulator", f"http://127.0.0.1:{port}", proc, folder / "bqemu.log",
                   "/readyz").wait_ready(60)


class RayCluster:
    """A Ray head (127.0.0.2) and a worker node (127.0.0.3): two raylets, as KubeRay's head and worker
    pods are, each started by `ray start --block` in its own process group.

    Each node has its own home folder (a pod's own disk) and its name in `CREDITRISK_NODE` (the
    pod's `spec.nodeName`); the write-ahead log's root `CREDITRISK_WAL_DIR` is one folder shared by
    both (the ReadWriteMany volume), so a node's log is reachable from the other only through it.
    """

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.gcs_port, self.dashboard_port = free_port(), free_port()
        self.address = f"{HEAD_IP}:{self.gcs_port}"
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"
        self.metrics_ports = {"head": free_port(), "worker": free_port()}  # each node's metrics agent
        self.nodes: list[Service] = []

    @property
    def wal_root(self) -> Path:
        return self.folder / "wal"

    def node_env(self, name: str) -> dict[str, str]:
        """What differs between the nodes: each its own home and name, one shared log root."""
        return {"CREDITRISK_NODE": name, "CREDITRISK_HOME": str(self.folder / f"node-{name}"),
                "CREDITRISK_WAL_DIR": str(self.wal_root),
                # Ray reports its metrics every 10 s by default; 2 s lets a check see a count settle
                "RAY_metrics_report_interval_ms": "2000"}

    def metrics_targets(self) -> list[str]:
        """Each node's metrics agent, where Prometheus scrapes that node's replicas."""
        return [f"{HEAD_IP}:{self.metrics_ports['head']}", f"{WORKER_IP}:{self.metrics_ports['worker']}"]

    def node_logs(self, name: str) -> list[Path]:
        """Where node `name`'s replicas keep their logs: its folder under the shared root (and its
        own disk's, where a replica that ignored the shared root would have written)."""
        return [self.wal_root / name, self.folder / f"node-{name}" / "wal"]

    def _ray(self, name: str, *args: str) -> Service:
        log = self.folder / f"ray-{name}.log"
        cmd = [str(BIN / "ray"), "start", "--block", "--disable-usage-stats", "--num-cpus", "1",
               f"--temp-dir={self.folder / 'ray'}", *args]
        return Service(f"ray-{name}", self.dashboard, _spawn(cmd, {**self.env, **self.node_env(name)}, log),
                       log)

    def worker_endpoints(self) -> list[str]:
        """URLs of the worker node's own HTTP listeners on 127.0.0.1 that answer `/readyz`: its
        replicas' direct-ingress ports (KubeRay's serve Service sends part of the traffic there)."""
        tree = [self.nodes[1].proc.pid, *descendants(self.nodes[1].proc.pid)]
        found = []
        for port in sorted(listening_ports(tree)):
            url = f"http://127.0.0.1:{port}"
            try:
                if "status" in httpx.get(f"{url}/readyz", timeout=2).json():
                    found.append(url)
            except (httpx.HTTPError, ValueError, TypeError):
                continue
        return found

    def kill_worker(self, while_frozen: Callable[[], int]) -> tuple[int, int]:
        """SIGKILL every process of the worker node at once (a machine's death); returns how many,
        and what `while_frozen` returned.

        The tree is frozen first (SIGSTOP: nothing forks or writes while it is read and looked at),
        then killed whole, so no process of that node survives it, whatever process group Ray put
        it in.
        """
        node = self.nodes[1]
        kill_all([node.proc.pid, *descendants(node.proc.pid)], signal.SIGSTOP)
        tree = [node.proc.pid, *descendants(node.proc.pid)]
        kill_all(tree, signal.SIGSTOP)
        seen = while_frozen()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.proc.pid, signal.SIGKILL)
        kill_all(tree)
        node.proc.wait(timeout=10)
        return len(tree), seen

    def start(self) -> RayCluster:
        self.nodes.append(self._ray(
            "head", "--head", f"--node-ip-address={HEAD_IP}", f"--port={self.gcs_port}",
            "--include-dashboard=true", "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={self.metrics_ports['head']}"))
        self.nodes[0].ready_path = "/api/version"
        self.nodes[0].wait_ready(120)
        self.nodes.append(self._ray(
            "worker", f"--address={self.address}", f"--node-ip-address={WORKER_IP}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={self.metrics_ports['worker']}"))
        deadline = time.monotonic() + 120
        while len(self.alive_nodes()) < 2:
            if time.monotonic() > deadline or self.nodes[1].proc.poll() is not None:
                raise RuntimeError(f"the worker node did not join; see {self.nodes[1].log}")
            time.sleep(1)
        return self

    def alive_nodes(self) -> list[str]:
        """IPs of the nodes Ray's state API reports alive."""
        import json

        listed = self.run(str(BIN / "ray"), "list", "nodes", "--format", "json", timeout=60)
        try:
            nodes = json.loads(listed.stdout or "[]")
        except ValueError:
            return []
        return sorted(n["node_ip"] for n in nodes if n.get("state") == "ALIVE")

    def run(self, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A Ray or Serve CLI command against this cluster (its token in the environment)."""
        return subprocess.run(list(cmd), env={**self.env, "RAY_ADDRESS": self.address},
                              capture_output=True, text=True, timeout=timeout, cwd=REPO)

    def stop(self) -> None:
        """Stop the nodes (worker first) and anything they left, HAProxy after reloads included."""
        for node in reversed(self.nodes):
            left = descendants(node.proc.pid)
            node.stop(timeout=30)
            kill_all([p for p in left if Path(f"/proc/{p}").exists()])


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports on 127.0.0.1 that processes `pids` listen on (from /proc; Linux only)."""
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*") if Path(f"/proc/{pid}").exists() else []:
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and inode in inodes and local.startswith("0100007F:"):  # LISTEN on 127.0.0.1
            ports.add(int(local.split(":")[1], 16))
    return ports


def start_dagster(folder: Path, env: dict[str, str], port: int) -> list[Service]:
    """`dagster-webserver` and `dagster-daemon` on the repo's workspace, with `env`'s instance."""
    web_log, daemon_log = folder / "dagster-webserver.log", folder / "dagster-daemon.log"
    web = Service("dagster-webserver", f"http://127.0.0.1:{port}",
                  _spawn([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w",
                          str(REPO / "workspace.yaml")], env, web_log), web_log, "/server_info")
    daemon_cmd = [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")]
    daemon = Service("dagster-daemon", "", _spawn(daemon_cmd, env, daemon_log), daemon_log)
    return [web.wait_ready(180), daemon]

