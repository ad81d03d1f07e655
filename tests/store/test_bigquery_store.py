"""BigQueryRequestStore against a real BigQuery REST emulator (bqemulator) on 127.0.0.1.

Needs `bash tests/bqemu/setup.sh` once (the fixture fails, not skips, without it).
"""
from __future__ import annotations

import time
from datetime import timedelta

import dagster as dg
import pytest
from store_rows import T0, assert_window_dtypes, outcome_row, request_row

from creditrisk.store.bigquery import BigQueryRequestStore
from creditrisk.store.request_ids import id_for
from creditrisk.store.rows import REQUEST_COLUMNS, StoreError
from creditrisk_assets.resources import build_resources

PROJECT = "test-project"  # the emulator project, as in conftest.py


def test_ensure_tables_is_idempotent_and_partitions_by_day(bq_store: BigQueryRequestStore) -> None:
    client = bq_store.client
    bq_store.append_requests([request_row("kept", T0)])
    created = client.get_table(bq_store.requests_table).created
    bq_store.ensure_tables()  # second call: no error, nothing replaced
    assert bq_store.count() == 1 and client.get_table(bq_store.requests_table).created == created
    requests = client.get_table(bq_store.requests_table)
    outcomes = client.get_table(bq_store.outcomes_table)
    assert (requests.time_partitioning.type_, requests.time_partitioning.field) == ("DAY", "ts")
    assert (outcomes.time_partitioning.type_, outcomes.time_partitioning.field) == ("DAY", "reported_at")
    # BigQuery answers the legacy names (INTEGER, FLOAT), the emulator the standard ones.
    legacy = {"INT64": "INTEGER", "FLOAT64": "FLOAT"}
    types = {f.name: legacy.get(f.field_type, f.field_type) for f in requests.schema}
    assert list(types) == list(REQUEST_COLUMNS)
    assert (types["ts"], types["person_age"], types["loan_amnt"], types["loan_grade"]) == \
        ("TIMESTAMP", "INTEGER", "FLOAT", "STRING")
    assert [(f.name, legacy.get(f.field_type, f.field_type), f.mode) for f in outcomes.schema] == \
        [("request_id", "STRING", "REQUIRED"), ("loan_status", "INTEGER", "REQUIRED"),
         ("reported_at", "TIMESTAMP", "REQUIRED")]


def test_bulk_append_uses_a_load_job_with_the_same_result(bq_store: BigQueryRequestStore) -> None:
    bulk = BigQueryRequestStore(bq_store.client, PROJECT, bq_store.dataset, bulk_rows=2, timeout_s=15.0)
    rows = [request_row(f"bulk-{i:03d}", T0 + timedelta(minutes=i), person_emp_length=float(i % 7))
            for i in range(50)]
    assert bulk.append_requests(rows) == 50
    assert bulk.append_outcomes([outcome_row("bulk-001", 1, T0 + timedelta(days=9)),
                                 outcome_row("bulk-001", 0, T0 + timedelta(days=8))]) == 2
    df = bq_store.read_window(T0, T0 + timedelta(hours=1))
    assert df["request_id"].tolist() == [f"bulk-{i:03d}" for i in range(50)]
    assert_window_dtypes(df)
    assert df["person_emp_length"].tolist() == [float(i % 7) for i in range(50)]
    assert df.set_index("request_id").loc["bulk-001", "loan_status"] == 1
    loads = [j for j in bq_store.client.list_jobs(max_results=100) if j.job_type == "load"]
    assert {j.destination.table_id for j in loads if j.destination.dataset_id == bq_store.dataset} == \
        {"requests", "outcomes"}


def test_failures_surface_as_store_errors_naming_the_table(bq_client, dataset_name: str) -> None:
    store = BigQueryRequestStore(bq_client, PROJECT, f"{dataset_name}_missing", timeout_s=15.0)
    table = f"{PROJECT}.{dataset_name}_missing.requests"
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"bigquery store: .*{table}"):
        store.read_window(T0, T0 + timedelta(days=1))
    with pytest.raises(StoreError, match=rf"bigquery store: .*{table}"):
        store.count()
    with pytest.raises(StoreError, match=rf"bigquery store: .*{table}"):
        store.known_request_ids([id_for(T0)])
    with pytest.raises(StoreError, match=rf"bigquery store: append to {table}"):
        store.append_requests([request_row("a", T0)])
    assert time.monotonic() - started < 10, "a failure must not be retried for long"


@pytest.mark.parametrize("bulk_rows", [10_000, 1], ids=["streaming", "load-job"])
def test_a_rejected_value_fails_fast_instead_of_retrying_for_minutes(bq_client, dataset_name: str,
                                                                      bulk_rows: int) -> None:
    """A table whose schema drifted (`decision` made INT64 elsewhere) refuses our string value."""
    from google.cloud import bigquery

    bq_client.create_dataset(f"{PROJECT}.{dataset_name}")
    schema = [bigquery.SchemaField("request_id", "STRING"), bigquery.SchemaField("ts", "TIMESTAMP"),
              bigquery.SchemaField("decision", "INT64")]
    bq_client.create_table(bigquery.Table(f"{PROJECT}.{dataset_name}.requests", schema=schema))
    store = BigQueryRequestStore(bq_client, PROJECT, dataset_name, timeout_s=3.0, bulk_rows=bulk_rows)
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match=f"append to {PROJECT}.{dataset_name}.requests"):
            store.append_requests([request_row("r1", T0)])
    finally:
        bq_client.delete_dataset(f"{PROJECT}.{dataset_name}", delete_contents=True, not_found_ok=True)
    assert time.monotonic() - started < 10


def test_missing_outcomes_table_is_named(bq_store: BigQueryRequestStore) -> None:
    bq_store.client.delete_table(bq_store.outcomes_table)
    with pytest.raises(StoreError, match=bq_store.outcomes_table):
        bq_store.read_window(T0, T0 + timedelta(days=1))


def test_bad_rows_and_names_are_refused_before_any_call(bq_store: BigQueryRequestStore) -> None:
    with pytest.raises(StoreError, match="missing columns"):
        bq_store.append_requests([{"request_id": "x", "ts": T0}])
    with pytest.raises(StoreError, match="0 or 1"):
        bq_store.append_outcomes([outcome_row("x", 2, T0)])
    with pytest.raises(StoreError, match="invalid dataset or table name"):
        BigQueryRequestStore(bq_store.client, PROJECT, "d`; DROP TABLE x; --")


def test_dagster_bigquery_resource_feeds_the_store(bq_emulator: str, dataset_name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The stock `dagster_gcp.BigQueryResource` has no endpoint or anonymous-credentials setting.

    google-cloud-bigquery reads BIGQUERY_EMULATOR_HOST (the `http://` is required) as its default
    endpoint, and `bigquery.Client()` without credentials calls `google.auth.default()` at call
    time, which knows no anonymous type (ADC files are service-account / authorized-user /
    external-account, all of which fetch a token). So the test resolves ADC to anonymous
    credentials by replacing `google.auth.default`, the one thing a test process must arrange.
    """
    import google.auth
    from dagster_gcp import BigQueryResource
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bq_emulator)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), PROJECT))
    resource = BigQueryResource(project=PROJECT)

    # As an asset would use it: inside the resource's context ...
    with resource.get_client() as client:
        store = BigQueryRequestStore(client, PROJECT, dataset_name)
        store.ensure_tables()
        store.append_requests([request_row("dg-1", T0), request_row("dg-2", T0 + timedelta(hours=1))])
    # ... or as the production code location builds it: CREDITRISK_ENV=production through creditrisk.wiring,
    # the project an EnvVar resolved when the resources are initialized (as when a run starts).
    monkeypatch.setenv("CREDITRISK_BQ_PROJECT", PROJECT)
    resources = build_resources({"CREDITRISK_ENV": "production", "CREDITRISK_BQ_DATASET": dataset_name})
    with dg.build_resources({"store": resources["store"]}) as initialized:
        lazy = initialized.store.get_store()
    try:
        assert isinstance(lazy, BigQueryRequestStore) and lazy.count() == 2
        assert lazy.read_window(T0, T0 + timedelta(days=1))["request_id"].tolist() == ["dg-1", "dg-2"]
    finally:
        lazy.close()
        with resource.get_client() as client:
            client.delete_dataset(f"{PROJECT}.{dataset_name}", delete_contents=True, not_found_ok=True)
