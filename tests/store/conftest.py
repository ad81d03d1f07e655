"""Fixtures for the request-store tests: a real BigQuery REST emulator on 127.0.0.1.

The emulator runs from its own venv (`.venv-bqemu`, made by `bash tests/bqemu/setup.sh`) through
`tests/bqemu/launcher.py`, once per session; each test gets its own dataset.
"""
from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.ports import free_port

REPO = Path(__file__).resolve().parents[2]
BQEMU_PYTHON = REPO / ".venv-bqemu" / "bin" / "python"
LAUNCHER = REPO / "tests" / "bqemu" / "launcher.py"
PROJECT = "test-project"
START_TIMEOUT_S = 30.0


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/readyz", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start bqemulator on a free loopback port; yields its endpoint `http://127.0.0.1:PORT`."""
    if not BQEMU_PYTHON.exists():
        pytest.fail(f"the BigQuery emulator venv is missing ({BQEMU_PYTHON}): "
                    "run `bash tests/bqemu/setup.sh`", pytrace=False)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_dir = tmp_path_factory.mktemp("bqemu")
    stdout, stderr = log_dir / "stdout.log", log_dir / "stderr.log"
    # NO_GCE_CHECK keeps google-auth (if anything in the emulator resolves credentials) off the
    # metadata address; output goes to files so a chatty emulator can never fill a pipe and stall.
    env = {**os.environ, "NO_GCE_CHECK": "true", "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen([str(BQEMU_PYTHON), str(LAUNCHER), "--port", str(port)],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(endpoint):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = f"exited with {proc.returncode}" if proc.poll() is not None else \
                    f"not ready after {START_TIMEOUT_S:.0f} s"
                pytest.fail(f"bqemulator on {endpoint} {why}; stderr tail:\n{_tail(stderr)}", pytrace=False)
            time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def bq_client(bq_emulator: str, monkeypatch: pytest.MonkeyPatch):  # -> google.cloud.bigquery.Client
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    monkeypatch.setenv("NO_GCE_CHECK", "true")
    client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                             client_options={"api_endpoint": bq_emulator})
    yield client
    client.close()


@pytest.fixture
def dataset_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bq_store(bq_client, dataset_name: str):  # -> BigQueryRequestStore
    from creditrisk.store.bigquery import BigQueryRequestStore

    # A short timeout: on the emulator a failure should surface in seconds, not after retries.
    store = BigQueryRequestStore(bq_client, PROJECT, dataset_name, timeout_s=15.0)
    store.ensure_tables()
    yield store
    store.close()
    bq_client.delete_dataset(f"{PROJECT}.{dataset_name}", delete_contents=True, not_found_ok=True)


@pytest.fixture(params=["local", "bigquery"])
def store(request: pytest.FixtureRequest, tmp_path: Path):  # -> RequestStore
    """Each contract test runs once per backend."""
    if request.param == "bigquery":
        return request.getfixturevalue("bq_store")
    from creditrisk.store.local import LocalRequestStore

    return LocalRequestStore(tmp_path / "store")
