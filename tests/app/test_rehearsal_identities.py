"""The rehearsal's MLflow identities, without a server: who gets which grant, the server's auth config,
and that no part or command inherits the caller's identity. The server's refusals themselves are
checked by the rehearsal (tests/e2e/test_rehearsal.py), against a real basic-auth server."""
from __future__ import annotations

import configparser
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from creditrisk_app.rehearsal import identities
from creditrisk_app.rehearsal.identities import Identities, acting_as
from creditrisk_app.rehearsal.run import _env


def test_every_role_is_its_own_user_with_a_fresh_password() -> None:
    first, second = Identities.generate(), Identities.generate()
    names = [u.name for u in first.users()]
    assert len(set(names)) == 4 and first.admin.name not in names
    assert {u.password for u in first.users()}.isdisjoint(u.password for u in second.users())
    assert first.secret_key != second.secret_key and len(first.secret_key) >= 32


def test_only_the_serving_user_is_read_only_and_nobody_manages_the_experiment() -> None:
    ids = Identities.generate()
    grants = {user.name: (experiment, model) for user, experiment, model in ids.grants()}
    assert grants == {ids.trainer.name: ("EDIT", "MANAGE"), ids.reviewers[0].name: ("EDIT", "MANAGE"),
                      ids.reviewers[1].name: ("EDIT", "MANAGE"), ids.serving.name: ("READ", "READ")}


def test_the_server_refuses_by_default_and_its_config_holds_no_password(tmp_path: Path) -> None:
    ids = Identities.generate()
    path = identities.write_auth_config(tmp_path / "auth.ini", "postgresql+psycopg://pg@127.0.0.1:5/auth")
    ini = configparser.ConfigParser()
    ini.read(path)
    assert ini["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    assert ids.admin.password not in path.read_text() and path.stat().st_mode & 0o077 == 0
    env = identities.server_env(ids, path)
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == str(path)
    assert (env["MLFLOW_AUTH_ADMIN_USERNAME"], env["MLFLOW_AUTH_ADMIN_PASSWORD"]) == (ids.admin.name,
                                                                                     ids.admin.password)
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == ids.secret_key


def test_acting_as_sets_the_identity_for_one_block_and_restores_the_callers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "caller")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "callers-password")
    ids = Identities.generate()
    with acting_as(ids.serving):
        assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == (
            ids.serving.name, ids.serving.password)
    with acting_as(None):
        assert not set(identities.USER_VARS) & set(os.environ)
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "caller"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "callers-password"


def test_the_rehearsal_lends_no_identity_of_whoever_runs_it(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CREDITRISK_ACTOR", *identities.USER_VARS):
        monkeypatch.setenv(var, "someone-else")
    pg = SimpleNamespace(port=5, dsn=lambda: "postgresql://postgres@127.0.0.1:5/postgres")
    env = _env(tmp_path, pg, SimpleNamespace(url="http://127.0.0.1:6"),  # type: ignore[arg-type]
               SimpleNamespace(url="http://127.0.0.1:7"), "token", None)  # type: ignore[arg-type]
    assert not {"CREDITRISK_ACTOR", *identities.USER_VARS} & set(env)
    assert env["CREDITRISK_ENV"] == "production" and env["CREDITRISK_MLFLOW_URI"] == "http://127.0.0.1:7"
