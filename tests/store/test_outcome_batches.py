"""A batch of outcomes is stored whole or not at all, on both backends, and a retry stores it once."""
from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from store_rows import T0, outcome_row

from creditrisk.store.bigquery import BigQueryRequestStore
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.rows import StoreError

BATCH = 5_000  # the largest batch /outcomes/batch accepts
CHUNK_2 = 500  # the first outcome of the second insertAll chunk (or of the second day's file)


def batch() -> list[dict[str, Any]]:
    """5,000 outcomes of distinct requests, reported over ten days (500 a day)."""
    return [outcome_row(f"req-{i:05d}", i % 2, T0 + timedelta(days=i // 500, seconds=i))
            for i in range(BATCH)]


def local_outcomes(store: LocalRequestStore) -> tuple[int, int]:
    """(rows, distinct request ids) in every outcome file of the local store."""
    files = sorted(str(p) for p in (store.root / "outcomes").glob("date=*/part-*.parquet"))
    if not files:
        return 0, 0
    sql = "SELECT count(*), count(DISTINCT request_id) FROM read_parquet(?)"
    n, distinct = duckdb.connect().execute(sql, [files]).fetchone()  # type: ignore[misc]
    return int(n), int(distinct)


def bq_outcomes(store: BigQueryRequestStore) -> tuple[int, int]:
    """(rows, distinct request ids) in the BigQuery outcomes table."""
    sql = f"SELECT COUNT(*) AS n, COUNT(DISTINCT request_id) AS d FROM `{store.outcomes_table}`"
    row = list(store.client.query(sql).result())[0]
    return int(row["n"]), int(row["d"])


def test_local_a_failure_at_the_second_file_stores_none_of_the_batch(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalRequestStore(tmp_path / "store")
    real_replace, calls = os.replace, []

    def second_fails(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device (injected)")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OSError, match="injected"):
        store.append_outcomes(batch())
    after_failure = local_outcomes(store)
    monkeypatch.setattr(os, "replace", real_replace)
    assert store.append_outcomes(batch()) == BATCH  # the caller's retry
    assert (after_failure, local_outcomes(store)) == ((0, 0), (BATCH, BATCH))
    assert not list((store.root / "outcomes").glob("date=*/.*.tmp"))  # no staged file left behind


class FaultAtChunk2:
    """Wraps the client's write calls: the one carrying outcome #500 is refused, or its answer lost."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch, lost: bool) -> None:
        self.lost, self.armed, self.marker = lost, True, f"req-{CHUNK_2:05d}"
        for name in ("insert_rows_json", "query"):
            monkeypatch.setattr(client, name, self._wrap(getattr(client, name)))

    def _carries_marker(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        if isinstance(args[0], str) and args[0].lstrip().upper().startswith("SELECT"):
            return False  # a read
        config = kwargs.get("job_config")  # a statement's rows travel as query parameters
        return self.marker in repr(args) + repr(config.to_api_repr() if config is not None else None)

    def _wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not (self.armed and self._carries_marker(args, kwargs)):
                return real(*args, **kwargs)
            self.armed = False
            if self.lost:  # the write went through, the answer never came back
                result = real(*args, **kwargs)
                getattr(result, "result", lambda **_: None)()
            raise ConnectionResetError("injected: connection reset at chunk 2")
        return call


@pytest.mark.parametrize("lost", [False, True], ids=["chunk-2-refused", "chunk-2-answer-lost"])
def test_bigquery_a_failure_at_chunk_2_stores_all_or_none_and_a_retry_stores_each_once(
        bq_store: BigQueryRequestStore, monkeypatch: pytest.MonkeyPatch, lost: bool) -> None:
    fault = FaultAtChunk2(bq_store.client, monkeypatch, lost)
    with pytest.raises(StoreError, match="injected"):
        bq_store.append_outcomes(batch())
    after_failure = bq_outcomes(bq_store)
    assert not fault.armed and bq_store.append_outcomes(batch()) == BATCH  # the caller's retry
    assert (after_failure, bq_outcomes(bq_store)) == (((BATCH, BATCH) if lost else (0, 0)), (BATCH, BATCH))
