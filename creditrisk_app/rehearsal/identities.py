"""The rehearsal's MLflow identities: `mlflow server --app-name basic-auth`, its users and their grants.

One user per role, each with a random password: the trainer (Dagster's webserver, daemon and runs),
two reviewers (people at their workstations, who run the CLI) and the serving replicas, which may
only read. The server refuses anonymous and unknown users (`default_permission = NO_PERMISSIONS`).
MLflow grants per experiment and per registered model, not per alias, and deleting an alias
needs MANAGE, so the trainer and the reviewers hold MANAGE on the registered model: the server
cannot stop them from moving `@champion` (README "Model change control").

Order: a user who is not an admin gets 403, not 404, for a registered model that does not exist
yet, so `creditrisk bootstrap` (which first asks for `@champion`) would be refused on an empty
server; and a model created later by one user gets MANAGE for that user only. So the admin
creates the experiment and the registered model first, then grants every role, before any step
runs as a named user (`provision`).
"""
from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from creditrisk.registry.client import EXPERIMENT_NAME, MODEL_NAME

USER_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
# A refused request, as MLflow's client reports it: 401 (no or wrong credentials) or 403 (no grant).
REFUSED = {"UNAUTHENTICATED", "PERMISSION_DENIED"}


@dataclass(frozen=True)
class Identity:
    """One MLflow user: its name and password."""

    name: str
    password: str

    def env(self) -> dict[str, str]:
        """The variables MLflow's client reads its credentials from."""
        return {"MLFLOW_TRACKING_USERNAME": self.name, "MLFLOW_TRACKING_PASSWORD": self.password}


def _new(name: str) -> Identity:
    return Identity(f"rehearsal-{name}", secrets.token_urlsafe(24))


@dataclass(frozen=True)
class Identities:
    """Every user of one rehearsal and the server's secret key, all random per run."""

    admin: Identity
    trainer: Identity
    reviewers: tuple[Identity, Identity]
    serving: Identity
    secret_key: str

    @classmethod
    def generate(cls) -> Identities:
        return cls(_new("admin"), _new("trainer"), (_new("reviewer-1"), _new("reviewer-2")),
                   _new("serving"), secrets.token_hex(32))

    def users(self) -> list[Identity]:
        """The users the admin creates (the admin itself is created by the server at its first start)."""
        return [self.trainer, *self.reviewers, self.serving]

    def grants(self) -> list[tuple[Identity, str, str]]:
        """(user, experiment permission, registered-model permission) for each user.

        EDIT on the experiment lets the trainer and the reviewers log runs and artifacts (a long
        audit event is an artifact of a version's run); MANAGE on the registered model, because
        moves delete aliases. The serving user needs READ on the experiment too: a version's files
        are downloaded through the artifact proxy, which checks the experiment, not the model.
        """
        people = [(user, "EDIT", "MANAGE") for user in (self.trainer, *self.reviewers)]
        return [*people, (self.serving, "READ", "READ")]


def write_auth_config(path: Path, database_uri: str) -> Path:
    """basic-auth's configuration (MLFLOW_AUTH_CONFIG_PATH); the admin's password is not in it."""
    path.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"  # anonymous and ungranted users are refused
        f"database_uri = {database_uri}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Each password check is a deliberately slow scrypt hash (~0.1 s, several per request):
        # uncached, one bootstrap took 2 minutes instead of 20 s. The cache is per worker; a
        # password change or a deleted user takes effect on other workers within this time.
        "auth_cache_ttl_seconds = 60\n")
    path.chmod(0o600)
    return path


def server_env(ids: Identities, config: Path) -> dict[str, str]:
    """What `mlflow server --app-name basic-auth` reads besides the config file (Secrets in deploy/)."""
    return {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_USERNAME": ids.admin.name,
            "MLFLOW_AUTH_ADMIN_PASSWORD": ids.admin.password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": ids.secret_key}


@contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """MLflow's client in this process as `identity` (None: anonymous) for one block."""
    saved = {k: os.environ.pop(k) for k in USER_VARS if k in os.environ}
    os.environ.update(identity.env() if identity else {})
    try:
        yield
    finally:
        for key in USER_VARS:
            os.environ.pop(key, None)
        os.environ.update(saved)


def provision(url: str, ids: Identities) -> str:
    """As the admin: create the users, the experiment and the registered model, and grant each
    user its permissions; returns a one-line summary."""
    from mlflow import MlflowClient
    from mlflow.server import get_app_client

    with warnings.catch_warnings():  # the auth client imports Starlette's deprecated WSGI middleware
        warnings.simplefilter("ignore")
        auth = get_app_client("basic-auth", tracking_uri=url)
    with acting_as(ids.admin):
        for user in ids.users():
            auth.create_user(user.name, user.password)
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        experiment = client.create_experiment(EXPERIMENT_NAME)
        client.create_registered_model(MODEL_NAME, description="Probability of default for loan "
                                       "pre-approval (creditrisk).")
        for user, on_experiment, on_model in ids.grants():
            auth.grant_user_permission(user.name, "experiment", experiment, on_experiment)
            auth.grant_user_permission(user.name, "registered_model", MODEL_NAME, on_model)
    return "; ".join(f"{u.name}: {e} experiment, {m} model" for u, e, m in ids.grants())


def refused(call: Callable[[], object]) -> str | None:
    """The error code if `call()` was refused by the server as unauthenticated or forbidden, else None."""
    from mlflow.exceptions import MlflowException

    try:
        call()
    except MlflowException as exc:
        return exc.error_code if exc.error_code in REFUSED else None
    return None


def serving_cannot_move_alias(url: str, ids: Identities, version: str) -> tuple[bool, str]:
    """The serving user tries to put `version` in @champion: refused, and @champion did not move."""
    from mlflow import MlflowClient

    with acting_as(ids.serving):
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        before = client.get_model_version_by_alias(MODEL_NAME, "champion").version
        code = refused(lambda: client.set_registered_model_alias(MODEL_NAME, "champion", version))
        after = client.get_model_version_by_alias(MODEL_NAME, "champion").version
    return (code is not None and after == before,
            f"{ids.serving.name} setting @champion to v{version}: {code or 'ALLOWED'}; @champion v{after}")


def anonymous_cannot_read(url: str) -> tuple[bool, str]:
    """A client without credentials cannot even read the registered model."""
    from mlflow import MlflowClient

    with acting_as(None):
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        code = refused(lambda: client.get_registered_model(MODEL_NAME))
    return code is not None, f"reading {MODEL_NAME}: {code or 'ALLOWED'}"
