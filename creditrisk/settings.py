"""Runtime settings: every environment variable the product reads, read here and only when asked.

Nothing is read or created at import time; call :func:`get_settings` where a value is needed. The
variables and their meaning are listed in the README's "Configuration" table.
"""
from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from pathlib import Path

# A URI's password (scheme://user:PASSWORD@host) and a `password=` pair (libpq keyword strings, query
# strings): what `redact` hides in every message that names a tracking, lock or store address.
_URI_PASSWORD = re.compile(r"(?P<user>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):[^\s@/]*@")
_PASSWORD_PAIR = re.compile(r"(?P<key>\b(?:password|passwd|pwd)=)[^&\s]+", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every URI password and `password=` value replaced by `***`."""
    return _PASSWORD_PAIR.sub(r"\g<key>***", _URI_PASSWORD.sub(r"\g<user>:***@", text))



class Promotion(StrEnum):
    """CREDITRISK_PROMOTION: a winning challenger serves at once (`auto`) or waits for a person."""

    AUTO = "auto"
    APPROVAL = "approval"


# The change policy's numbers (`creditrisk.registry.policy` says what each sets): deployment
# settings, read only from the environment, never from a run's launch configuration.
POLICY_VARIABLES = ("CREDITRISK_MIN_EVALUATION_ROWS", "CREDITRISK_MIN_DEFAULTS", "CREDITRISK_MIN_REPAID",
                    "CREDITRISK_MIN_AUC_GAIN", "CREDITRISK_MAX_BRIER_INCREASE", "CREDITRISK_MAX_RECALL_DROP",
                    "CREDITRISK_MIN_CANDIDATE_AUC", "CREDITRISK_MAX_CANDIDATE_BRIER",
                    "CREDITRISK_MAX_SWAP_SHARE", "CREDITRISK_MAX_AGE_RATIO_DROP")

# What a Dagster resource takes from the process's environment rather than from its own fields: the
# change policy, and who acts (the identity the MLflow server authenticates).
DEPLOYMENT_VARIABLES = ("CREDITRISK_PROMOTION", *POLICY_VARIABLES, "CREDITRISK_DATA",
                        "MLFLOW_TRACKING_USERNAME")

# 12 CFR 1002.12(b): application records are kept 25 months after the applicant was notified.
MIN_RETENTION_MONTHS = 25
# One legal hold: its label, and the first and last day (inclusive, UTC) of the requests it holds.
LegalHold = tuple[str, date, date]


@dataclass(frozen=True)
class Settings:
    """Where state lives and which deployment (`local` or `production`) the parts come from."""

    home: Path
    env: str
    mlflow_uri: str
    bq_project: str | None
    bq_dataset: str
    base_data: str | None = None
    alert_webhook: str | None = None
    pushgateway: str | None = None  # where the weekly loop pushes its figures (`monitoring.exported`)
    reports_override: Path | None = None
    store_override: Path | None = None
    actor: str = "unknown"  # who CLI moves are recorded as (see `_actor`)
    promotion: Promotion = Promotion.AUTO  # CREDITRISK_PROMOTION
    policy: tuple[tuple[str, str], ...] = ()  # the POLICY_VARIABLES that are set, as (name, raw value)
    log_training_data: str = "copy"  # CREDITRISK_LOG_TRAINING_DATA: `copy` rows to MLflow, or `reference`
    lock_uri: str | None = None  # CREDITRISK_LOCK_URI: postgresql://... for the shared registry lock
    # BIGQUERY_EMULATOR_HOST (google-cloud-bigquery's own variable): the BigQuery API at this
    # http:// address with anonymous credentials. Only for an emulator (the production rehearsal).
    bq_emulator: str | None = None
    retention_months: int = MIN_RETENTION_MONTHS  # CREDITRISK_RETENTION_MONTHS: how long rows are kept
    legal_holds: tuple[LegalHold, ...] = ()  # CREDITRISK_LEGAL_HOLDS: request days never deleted
    wal_override: Path | None = None  # CREDITRISK_WAL_DIR: the log's root (a cluster's shared volume)
    node: str = "local"  # CREDITRISK_NODE: this machine's folder under the log's root (spec.nodeName)

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def store_dir(self) -> Path:
        return self.store_override or self.home / "requests"

    @property
    def wal_dir(self) -> Path:
        """Serving replicas' write-ahead logs of answered requests (see serving/wal.py)."""
        return self.wal_override or self.home / "wal"

    @property
    def reports_dir(self) -> Path:
        return self.reports_override or self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def with_overrides(self, *, mlflow_uri: str | None = None,
                       store_dir: str | Path | None = None) -> Settings:
        """These settings with an explicit registry URI or local store folder (None keeps the value)."""
        return replace(self, mlflow_uri=mlflow_uri or self.mlflow_uri,
                       store_override=Path(store_dir) if store_dir else self.store_override)

    def ensure_dirs(self) -> None:
        """Create the local runtime folders (called by entry points, never on import)."""
        for d in (self.home, self.mlflow_dir, self.artifact_root, self.store_dir, self.reports_dir,
                  self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)


def _retention_months(value: str | None) -> int:
    """CREDITRISK_RETENTION_MONTHS as a whole number of months, at least the law's 25."""
    if not value:
        return MIN_RETENTION_MONTHS
    try:
        months = int(value)
    except ValueError:
        raise ValueError(f"CREDITRISK_RETENTION_MONTHS must be a whole number of months, "
                         f"got {value!r}") from None
    if months < MIN_RETENTION_MONTHS:
        raise ValueError(f"CREDITRISK_RETENTION_MONTHS must be at least {MIN_RETENTION_MONTHS} "
                         f"(12 CFR 1002.12(b)), got {months}")
    return months


def _legal_holds(value: str | None) -> tuple[LegalHold, ...]:
    """CREDITRISK_LEGAL_HOLDS: comma-separated `[label=]YYYY-MM-DD..YYYY-MM-DD`, both days held."""
    holds = []
    for item in (value or "").split(","):
        if not (item := item.strip()):
            continue
        label, _, days = item.rpartition("=")
        first, sep, last = days.partition("..")
        try:
            start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
        except ValueError:
            start = end = None
        if not sep or start is None or end is None or end < start:
            raise ValueError(f"CREDITRISK_LEGAL_HOLDS: {item!r} is not [label=]FIRST..LAST "
                             "(two dates YYYY-MM-DD, FIRST not after LAST)")
        holds.append((label.strip() or days.strip(), start, end))
    return tuple(holds)


UNAUTHENTICATED = "unauthenticated"  # production's actor without an MLflow identity: it may not move a model


def _actor(env: Mapping[str, str], *, production: bool) -> str:
    """Who moves are recorded as: in production the identity the MLflow server authenticates
    (MLFLOW_TRACKING_USERNAME; a typed name is refused), locally CREDITRISK_ACTOR, else that user,
    else the OS user."""
    user = (env.get("MLFLOW_TRACKING_USERNAME") or "").strip()
    if not production:
        return env.get("CREDITRISK_ACTOR") or user or getpass.getuser()
    if env.get("CREDITRISK_ACTOR"):
        raise ValueError("CREDITRISK_ACTOR is refused in production: the actor is the identity the MLflow "
                         "server authenticates (MLFLOW_TRACKING_USERNAME)")
    return user or UNAUTHENTICATED


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from `environ` (default: the process environment), validated."""
    env = os.environ if environ is None else environ
    home = Path(env.get("CREDITRISK_HOME") or ".creditrisk").expanduser().resolve()
    mode = (env.get("CREDITRISK_ENV") or "local").strip().lower()
    if mode not in ("local", "production"):
        raise ValueError(f"CREDITRISK_ENV must be 'local' or 'production', got {mode!r}")
    policy = (env.get("CREDITRISK_PROMOTION") or "auto").strip().lower()
    if policy not in tuple(Promotion):
        raise ValueError(f"CREDITRISK_PROMOTION must be 'auto' or 'approval', got {policy!r}")
    # Production copies no applicant row into MLflow unless told to; locally, as the original design did.
    data_policy = env.get("CREDITRISK_LOG_TRAINING_DATA") or ("reference" if mode == "production" else "copy")
    if data_policy not in ("copy", "reference"):
        raise ValueError(f"CREDITRISK_LOG_TRAINING_DATA must be 'copy' or 'reference', got {data_policy!r}")
    default_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    return Settings(
        home=home,
        env=mode,
        mlflow_uri=env.get("CREDITRISK_MLFLOW_URI") or default_uri,
        bq_project=env.get("CREDITRISK_BQ_PROJECT") or None,
        bq_dataset=env.get("CREDITRISK_BQ_DATASET") or "creditrisk",
        base_data=env.get("CREDITRISK_DATA") or None,
        alert_webhook=env.get("CREDITRISK_ALERT_WEBHOOK") or None,
        pushgateway=env.get("CREDITRISK_PUSHGATEWAY") or None,
        reports_override=Path(env["CREDITRISK_REPORTS_DIR"]) if env.get("CREDITRISK_REPORTS_DIR") else None,
        actor=_actor(env, production=mode == "production"),
        promotion=Promotion(policy),
        policy=tuple((k, env[k].strip()) for k in POLICY_VARIABLES if env.get(k, "").strip()),
        log_training_data=data_policy,
        lock_uri=env.get("CREDITRISK_LOCK_URI") or None,
        bq_emulator=env.get("BIGQUERY_EMULATOR_HOST") or None,
        retention_months=_retention_months(env.get("CREDITRISK_RETENTION_MONTHS")),
        legal_holds=_legal_holds(env.get("CREDITRISK_LEGAL_HOLDS")),
        wal_override=Path(env["CREDITRISK_WAL_DIR"]) if env.get("CREDITRISK_WAL_DIR") else None,
        node=(env.get("CREDITRISK_NODE") or "").strip() or "local",
    )
