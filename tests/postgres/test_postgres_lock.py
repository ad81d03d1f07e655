"""The production registry lock: a Postgres advisory lock on a real PostgreSQL (Debian's, on loopback)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from model_changes import (
    CLEAR_WIN,
    TINY,
    TINY_FLOOR,
    aliases,
    candidate,
    changes_for,
    crown,
    race_two_promoters,
)
from pg import PgCluster

from creditrisk import wiring
from creditrisk.applicants.data import load_base_data
from creditrisk.registry.changes import ModelChanges
from creditrisk.registry.locks import LockTimeout, LockUnavailable, lock_key, postgres_lock
from creditrisk.settings import get_settings
from creditrisk.training.run import train_and_register
from creditrisk_assets.resources import build_resources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    cluster = PgCluster().start()
    try:
        yield cluster.dsn()
    finally:
        cluster.stop()


def test_the_lock_excludes_other_holders_and_dies_with_its_connection(postgres: str) -> None:
    key = lock_key("credit-risk")
    holder = psycopg.connect(postgres, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (key,))
    started = time.monotonic()
    with pytest.raises(LockTimeout, match="held by another process"):
        with postgres_lock(postgres, key, timeout_s=0.5):
            pass
    assert 0.5 <= time.monotonic() - started < 5
    holder.close()  # the holder dies: the server releases its lock
    with postgres_lock(postgres, key, timeout_s=5):
        with psycopg.connect(postgres, autocommit=True) as other:  # held now: nobody else gets it
            assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (False,)
    with psycopg.connect(postgres, autocommit=True) as other:  # released on exit
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)


def test_two_promoters_racing_under_the_postgres_lock(postgres: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in TINY_FLOOR.items():  # the racing processes inherit the deployment's floor
        monkeypatch.setenv(k, v)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    changes: ModelChanges = changes_for(uri, postgres)
    data = load_base_data(None, rows=2_000, seed=3)[:2]
    crown(changes, train_and_register(changes.registry, *data, run_name="b", source="t", config=TINY).version)
    race_two_promoters(changes, data, lock_uri=postgres)


def test_production_without_a_shared_lock_refuses_by_name(tmp_path: Path) -> None:
    env = {"CREDITRISK_ENV": "production", "CREDITRISK_HOME": str(tmp_path),
           "CREDITRISK_MLFLOW_URI": "http://127.0.0.1:9"}
    with pytest.raises(ValueError, match="needs CREDITRISK_LOCK_URI"):
        wiring.make_changes(get_settings(env))
    with pytest.raises(ValueError, match="must be a postgresql:// URI"):
        wiring.make_changes(get_settings({**env, "CREDITRISK_LOCK_URI": "redis://127.0.0.1"}))


def test_the_dagster_registry_resource_takes_the_shared_lock(postgres: str, tmp_path: Path) -> None:
    """Before: the resource rebuilt its settings without CREDITRISK_LOCK_URI, so a configured lock
    was never used (and production refused every move although the lock was configured)."""
    env = {"CREDITRISK_HOME": str(tmp_path), "CREDITRISK_LOCK_URI": postgres}
    resource = build_resources(env)["registry"]
    changes = resource.get_changes()
    with changes.lock(), psycopg.connect(postgres, autocommit=True) as other:
        held = other.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(changes.registry.model_name),))
        assert held.fetchone() == (False,)


def _holder_pid(conn: psycopg.Connection, key: int) -> int:
    """The backend that holds advisory lock `key` (another session's)."""
    (pid,) = conn.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                          "AND classid::bigint = %s AND objid::bigint = %s",
                          ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()  # type: ignore[misc]
    return int(pid)


def test_a_move_whose_lock_was_lost_refuses_and_writes_nothing(postgres: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock's session is killed after the promoter took it (a dropped connection, a failover).
    Before: the promoter carried on and wrote the event and the aliases without holding any lock."""
    changes = changes_for(f"sqlite:///{tmp_path / 'mlflow.db'}", postgres, **TINY_FLOOR)
    data = load_base_data(None, rows=2_000, seed=3)[:2]
    crown(changes, train_and_register(changes.registry, *data, run_name="b", source="t", config=TINY).version)
    v2 = candidate(changes, data)
    key, champion = lock_key(changes.registry.model_name), changes.champion
    before = (changes.registry.model_tags(), aliases(changes))

    def champion_after_the_lock_was_lost() -> str | None:  # read first under the lock by the move
        with psycopg.connect(postgres, autocommit=True) as other:
            pid = _holder_pid(other, key)
            other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        return champion()
    with monkeypatch.context() as m, pytest.raises(LockUnavailable,
                                                    match=f"the registry lock {key} .* is no longer held"):
        m.setattr(changes, "champion", champion_after_the_lock_was_lost)
        changes.promote(v2, expected_champion="1", actor="promoter", reason="lock lost", evidence=CLEAR_WIN)
    assert (changes.registry.model_tags(), aliases(changes)) == before
