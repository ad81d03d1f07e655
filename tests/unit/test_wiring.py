"""creditrisk.wiring picks the parts from the settings, and refuses a production set-up it cannot build."""
from __future__ import annotations

from pathlib import Path

import pytest

from creditrisk import wiring
from creditrisk.settings import get_settings
from creditrisk.store.bigquery import BigQueryRequestStore
from creditrisk.store.local import LocalRequestStore


def test_local_parts_live_under_the_home(tmp_path: Path) -> None:
    settings = get_settings({"CREDITRISK_HOME": str(tmp_path)})
    store = wiring.make_store(settings)
    assert isinstance(store, LocalRequestStore) and store.root == tmp_path / "requests"
    assert wiring.store_backend(settings) == wiring.LOCAL_STORE
    registry = wiring.make_registry(settings)
    assert registry.tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert registry.artifact_location == (tmp_path / "mlflow" / "artifacts").as_uri()
    assert (tmp_path / "mlflow").is_dir()  # SQLite needs the folder before its first connection
    assert wiring.make_alerter(settings).webhook_url is None


def test_explicit_store_folder_and_registry_uri_win(tmp_path: Path) -> None:
    settings = get_settings({"CREDITRISK_HOME": str(tmp_path / "home")}).with_overrides(
        mlflow_uri=f"sqlite:///{tmp_path}/elsewhere/m.db", store_dir=tmp_path / "log")
    store = wiring.make_store(settings)
    assert isinstance(store, LocalRequestStore) and store.root == tmp_path / "log"
    assert wiring.make_registry(settings).artifact_location == (tmp_path / "elsewhere" / "artifacts").as_uri()


def test_a_tracking_server_keeps_its_own_artifact_root(tmp_path: Path) -> None:
    settings = get_settings({"CREDITRISK_HOME": str(tmp_path), "CREDITRISK_MLFLOW_URI": "http://127.0.0.1:5999"})
    registry = wiring.make_registry(settings)
    assert registry.tracking_uri == "http://127.0.0.1:5999" and registry.artifact_location is None
    assert not (tmp_path / "mlflow").exists()


def test_production_parts(tmp_path: Path) -> None:
    settings = get_settings({"CREDITRISK_ENV": "production", "CREDITRISK_HOME": str(tmp_path),
                             "CREDITRISK_BQ_PROJECT": "bank-prod", "CREDITRISK_BQ_DATASET": "loans",
                             "CREDITRISK_ALERT_WEBHOOK": "http://127.0.0.1:9/alert"})
    store = wiring.make_store(settings)  # no client is created until the store is first used
    assert isinstance(store, BigQueryRequestStore) and store.requests_table == "bank-prod.loans.requests"
    assert wiring.store_backend(settings) == wiring.BIGQUERY_STORE
    assert wiring.make_alerter(settings).webhook_url == "http://127.0.0.1:9/alert"


def test_production_without_a_project_is_refused_by_name(tmp_path: Path) -> None:
    settings = get_settings({"CREDITRISK_ENV": "production", "CREDITRISK_HOME": str(tmp_path)})
    with pytest.raises(ValueError, match="CREDITRISK_BQ_PROJECT"):
        wiring.make_store(settings)


def test_an_unknown_deployment_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="CREDITRISK_ENV must be 'local' or 'production', got 'staging'"):
        get_settings({"CREDITRISK_ENV": "staging"})


def test_an_emulator_host_gets_its_endpoint_and_anonymous_credentials(tmp_path: Path) -> None:
    """BIGQUERY_EMULATOR_HOST (the rehearsal's bqemulator): no Google credentials are looked up."""
    from google.auth.credentials import AnonymousCredentials

    settings = get_settings({"CREDITRISK_ENV": "production", "CREDITRISK_HOME": str(tmp_path),
                             "CREDITRISK_BQ_PROJECT": "rehearsal",
                             "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9"})
    store = wiring.make_store(settings, bigquery_client=lambda: pytest.fail("dagster-gcp's client used"))
    assert isinstance(store, BigQueryRequestStore)
    client = store.client
    assert isinstance(client._credentials, AnonymousCredentials)
    assert client._connection.API_BASE_URL == "http://127.0.0.1:9"
    store.close()


def test_a_password_in_the_lock_uri_never_reaches_the_message(tmp_path: Path) -> None:
    """Before: 'CREDITRISK_LOCK_URI must be a postgresql:// URI, got 'mysql://admin:s3cret@db:3306/x''."""
    env = {"CREDITRISK_HOME": str(tmp_path), "CREDITRISK_LOCK_URI": "mysql://admin:s3cret@db:3306/x"}
    with pytest.raises(ValueError, match="must be a postgresql:// URI") as err:
        wiring.make_changes(get_settings(env))
    assert "s3cret" not in str(err.value) and "mysql://admin:***@db:3306/x" in str(err.value)


def test_a_password_in_the_tracking_uri_never_reaches_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable registry named by a URI with a password: the CLI's one line and the error say
    where, without it."""
    from creditrisk_app.cli import main

    for name, value in {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
                        "CREDITRISK_HOME": str(tmp_path),
                        "CREDITRISK_MLFLOW_URI": "http://alice:hunter2@127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    assert main(["status"]) == 2
    out = capsys.readouterr()
    assert "http://alice:***@127.0.0.1:9" in out.out + out.err
    assert "hunter2" not in out.out + out.err


def test_redact_removes_every_password_form() -> None:
    from creditrisk.settings import redact

    text = ("postgresql://u:p%40ss:w@h:5432/db?sslmode=require and host=h password=pw2 user=u, "
            "https://h/x?user=u&password=pw3 and https://nobody@h/ and sqlite:////tmp/m.db")
    assert redact(text) == ("postgresql://u:***@h:5432/db?sslmode=require and host=h password=*** user=u, "
                            "https://h/x?user=u&password=*** and https://nobody@h/ and sqlite:////tmp/m.db")
