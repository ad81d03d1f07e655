"""A registry that cannot answer is an error, never "no model yet": a real `mlflow server` on loopback,
stopped by the test. Nothing is promoted or bootstrapped blind, and the error names the URI."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_gcp import BigQueryResource
from model_changes import crown

from creditrisk import wiring
from creditrisk.applicants.data import load_base_data
from creditrisk.model.credit_model import TrainConfig
from creditrisk.registry.client import RegistryError
from creditrisk.settings import get_settings
from creditrisk.training.run import train_and_register
from creditrisk_assets.assets.promotion import champion_model
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource
from serving.runtime import free_port

pytestmark = pytest.mark.slow
FAST_FAIL = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}


class MlflowServer:
    """`mlflow server` with proxied artifacts on 127.0.0.1, startable again on the same port and data."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port",
               str(self.port), "--workers", "1", "--artifacts-destination", str(self.root / "artifacts"),
               "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}"]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"mlflow server did not start; see {self.root / 'server.log'}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    s = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def cli(home: Path, uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAST_FAIL, "CREDITRISK_HOME": str(home), "CREDITRISK_MLFLOW_URI": uri}
    return subprocess.run([sys.executable, "-m", "creditrisk_app.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_an_outage_fails_loudly_and_moves_nothing(server: MlflowServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FAST_FAIL.items():
        monkeypatch.setenv(k, v)
    settings = get_settings({"CREDITRISK_HOME": str(tmp_path), "CREDITRISK_MLFLOW_URI": server.uri})
    changes = wiring.make_changes(settings)
    raw, clean, _ = load_base_data(None, rows=2_000, seed=5)
    v1 = train_and_register(changes.registry, raw, clean, run_name="bootstrap", source="test",
                            config=TrainConfig(num_rounds=5, max_depth=2)).version
    crown(changes, v1)
    up = cli(tmp_path, server.uri, "status")
    assert up.returncode == 0 and '"version": "1"' in up.stdout

    server.stop()
    try:
        down = cli(tmp_path, server.uri, "status")
        assert down.returncode == 2 and down.stdout == "" and "Traceback" not in down.stderr
        line = down.stderr.strip().splitlines()[-1]  # our one line (MLflow may log a warning before it)
        assert line.startswith(f"creditrisk status: error: registry {server.uri}: looking up @champion")

        boot = cli(tmp_path, server.uri, "bootstrap")  # never trains and crowns on an outage
        assert boot.returncode == 2 and "loading base data" not in boot.stdout
        assert f"registry {server.uri}" in boot.stderr

        with pytest.raises(RegistryError, match=server.uri):
            changes.champion()
        ctx = dg.build_asset_context(partition_key="2026-08-09")
        with pytest.raises(dg.RetryRequested):  # the run retries later; it does not promote "the first model"
            store = StoreResource(store_dir=str(tmp_path / "store"), bigquery=BigQueryResource())
            champion_model(ctx, {"version": "2"}, store,
                           RegistryResource(tracking_uri=server.uri, home=str(tmp_path)), LoopConfig())
    finally:
        server.start()
    assert changes.champion() == v1 and [e["action"] for e in changes.trail.events()] == ["bootstrap"]
