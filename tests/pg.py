"""A throwaway PostgreSQL cluster on 127.0.0.1 from Debian's package (`tests/postgres/setup.sh`).

initdb refuses to run as root, so as root the cluster runs as the unprivileged `postgres` user,
in a temp folder, on a free port, with its socket in that folder; `stop()` removes everything.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from serving.runtime import free_port


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL is not installed: run `bash tests/postgres/setup.sh` (`make test` does)",
                    pytrace=False)
    return str(found[-1])


class PgCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="creditrisk-pg-"))
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self._as, *cmd], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {out.stderr[-1500:]}")

    def start(self) -> PgCluster:
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")
        data = str(self.dir / "data")
        self._run(_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self._run(_bin("pg_ctl"), "-D", data, "-l", str(self.dir / "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -F", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
