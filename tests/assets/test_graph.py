"""The weekly graph in-process: windows, checks, the drift report, and the drift sensor's decisions."""
from __future__ import annotations

import tempfile
from pathlib import Path

import dagster as dg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from world import DRIFT_WEEK, NORMAL_WEEK, QUIET_WEEK, resources_for

from creditrisk.monitoring.exported import JOB
from creditrisk.monitoring.windows import week_windows
from creditrisk_assets.definitions import ASSETS, CHECKS, build_definitions
from creditrisk_assets.resources import LoopConfig
from creditrisk_assets.sensors import drift_sensor

WEEKLY = dg.AssetSelection.assets("raw_requests", "current_window", "reference_window", "drift_report")
# The sensor's mechanics on the first drifted week: waiting for the changed world's labels is off here
# (it is tested in test_monitoring.py, where labels arrive as a bank has them).
READY = {"min_change_train_rows": 0}


def run_week(world: dict, instance: dg.DagsterInstance, key: str, **loop: object) -> dg.ExecuteInJobResult:
    return dg.materialize(ASSETS + CHECKS, selection=WEEKLY, partition_key=key, instance=instance,
                          resources=resources_for(world, **loop))


def meta(result: dg.ExecuteInJobResult, asset: str) -> dict:
    mats = result.asset_materializations_for_node(asset)
    assert len(mats) == 1
    return {k: v.value for k, v in mats[0].metadata.items()}


def checks(result: dg.ExecuteInJobResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=build_definitions())
    return drift_sensor.evaluate_tick(ctx)


def pushed(gateway: str) -> dict[tuple[str, str], float]:
    """(metric, step) -> value of the loop's figures the pushgateway holds."""
    body = httpx.get(f"{gateway}/metrics", timeout=5).text
    return {(sm.name, sm.labels["step"]): sm.value for family in text_string_to_metric_families(body)
            for sm in family.samples if sm.name.startswith("creditrisk_") and sm.labels.get("job") == JOB}


def test_weekly_graph_reports_drift_and_the_sensor_retrains_once(
        world: dict, tmp_path: Path, pushgateway: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITRISK_MIN_EVALUATION_ROWS", "50")  # the deployment's evidence rule
    instance = dg.DagsterInstance.ephemeral()
    instance.storage_directory()  # Dagster's own temp folder, made before counting
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # a private temp dir: other runs share /tmp
    store = world["store"]

    normal = run_week(world, instance, NORMAL_WEEK, **READY)
    assert normal.success
    w = week_windows(NORMAL_WEEK)
    raw = meta(normal, "raw_requests")
    assert raw["row_count"] == store.count(*w.current) > 400 and raw["labelled_count"] == raw["row_count"]
    ref = meta(normal, "reference_window")
    assert ref["row_count"] == store.count(*w.reference) and ref["source"].startswith("requests")
    report = meta(normal, "drift_report")
    assert report["dataset_drift"] is False and report["status"] == "ok"
    assert report["n_columns"] == 11 and report["drift_share"] == pytest.approx(report["n_drifted"] / 11)
    assert report["current_rows"] == raw["row_count"] and report["reference_rows"] == ref["row_count"]
    assert Path(report["html_report"]).stat().st_size > 100_000
    assert len(report["columns"].records) == 11
    assert {"volume_gate", "data_quality"} <= {k for k, v in checks(normal).items() if v.passed}
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the champion's download did not stay (issue 19)

    first = tick(instance, None)
    assert not first.run_requests
    assert first.skip_message.startswith("no drift in week 2026-W31: ")
    assert "/11 columns drifted; no concept drift: realized AUC" in first.skip_message

    drifted = run_week(world, instance, DRIFT_WEEK, **READY, pushgateway_url=pushgateway)
    report = meta(drifted, "drift_report")
    assert report["dataset_drift"] is True and report["drift_share"] == pytest.approx(2 / 11)
    # Its figures reached Prometheus's pushgateway as the alert rules read them (issue 20).
    figures = pushed(pushgateway)
    assert report["metrics_pushed"] is True
    assert figures[("creditrisk_dataset_drift", "drift_report")] == 1.0
    assert figures[("creditrisk_drifted_columns", "drift_report")] == report["n_drifted"] == 2
    assert figures[("creditrisk_estimated_auc", "drift_report")] == pytest.approx(report["estimate/auc"])
    realized = checks(drifted)["realized_performance"].metadata
    assert figures[("creditrisk_realized_rows", "realized_performance")] == realized["labelled_rows"].value
    assert figures[("creditrisk_realized_auc_floor", "realized_performance")] == LoopConfig().min_realized_auc
    by_column = {r.data["column"]: r.data for r in report["columns"].records}
    assert {c for c, d in by_column.items() if d["drifted"]} == {"person_income", "loan_percent_income"}

    second = tick(instance, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [DRIFT_WEEK]
    (request,) = second.run_requests
    drift_run = drifted.run_id
    assert request.run_key == f"retrain-{DRIFT_WEEK}-{drift_run}"  # one report, one retrain
    assert request.tags["creditrisk/trigger"] == "drift" and request.tags["creditrisk/drift_type"] == "data"
    assert request.tags["creditrisk/drift_share"] == f"{report['drift_share']:.3f}"
    assert request.tags["creditrisk/change_start"] == report["change_start"] == "2026-08-03T00:00:00+00:00"

    third = tick(instance, second.cursor)  # the same report again: no second retrain
    assert not third.run_requests

    # The retraining reads the report it was started for and records it with the model.
    retrain = dg.materialize(ASSETS + CHECKS, selection=dg.AssetSelection.assets("candidate_model"),
                             partition_key=DRIFT_WEEK, instance=instance, resources=resources_for(world))
    (cand,) = retrain.asset_materializations_for_node("candidate_model")
    tags = world["registry"].client.get_run(cand.metadata["mlflow_run_id"].value).data.tags
    assert tags["trigger.drift_report_run"] == drift_run
    assert set(tags["trigger.drifted_columns"].split(", ")) == {"person_income", "loan_percent_income"}
    assert tags["trigger.change_start"] == report["change_start"]  # where its reference starts once promoted
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nor anything of the retrain


def test_volume_gate_blocks_a_quiet_week(world: dict) -> None:
    instance = dg.DagsterInstance.ephemeral()
    quiet = run_week(world, instance, QUIET_WEEK)
    gate = checks(quiet)["volume_gate"]
    assert not gate.passed and gate.metadata["rows"].value == 50
    report = meta(quiet, "drift_report")
    assert report["status"] == "insufficient data" and report["dataset_drift"] is False
    skip = tick(instance, None)
    assert not skip.run_requests and skip.skip_message.startswith("insufficient data in week 2026-W33")


@pytest.mark.parametrize("env", [{"CREDITRISK_ENV": "production"}, {"CREDITRISK_ENV": "local"}])
def test_definitions_load_in_both_modes_without_credentials(env: dict, tmp_path: Path) -> None:
    defs = build_definitions({**env, "CREDITRISK_HOME": str(tmp_path)})
    assert {k.to_user_string() for k in defs.resolve_all_asset_keys()} == {
        "request_log", "base_training_data", "raw_requests", "current_window", "reference_window",
        "drift_report", "group_outcomes_weekly", "candidate_model", "champion_model"}
    assert defs.resolve_job_def("retrain_job") and defs.resolve_sensor_def("drift_sensor")
    store, registry = defs.resources["store"], defs.resources["registry"]
    if env["CREDITRISK_ENV"] == "production":  # endpoints are resolved when a run starts, not now
        assert isinstance(store.bq_project, dg.EnvVar) \
            and store.bq_project.env_var_name == "CREDITRISK_BQ_PROJECT"
        assert isinstance(registry.tracking_uri, dg.EnvVar)
        assert isinstance(registry.lock_uri, dg.EnvVar)
        assert registry.lock_uri.env_var_name == "CREDITRISK_LOCK_URI"
    else:
        assert store.get_store().root == tmp_path / "requests"
        assert registry.tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


def test_lineage_declares_what_each_asset_reads() -> None:
    """Edges are the data each asset reads: the reference window reads the request log (for the
    configured weeks) and the base data, not 13 partitions of raw_requests."""
    graph = build_definitions({"CREDITRISK_HOME": "/nonexistent"}).resolve_asset_graph()
    deps = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
            for k in graph.get_all_asset_keys()}
    assert deps["raw_requests"] == {"request_log"}
    assert deps["reference_window"] == {"request_log", "base_training_data"}
    assert deps["current_window"] == {"raw_requests"}
    assert deps["drift_report"] == {"reference_window", "current_window", "request_log"}  # + labelled rows
    assert deps["candidate_model"] == {"drift_report", "request_log", "base_training_data"}
    assert deps["champion_model"] == {"candidate_model", "request_log"}


@pytest.mark.parametrize("instance_yaml", ["dagster.yaml", "deploy/dagster.yaml"])
def test_retraining_runs_are_serialized_by_every_instance(instance_yaml: str) -> None:
    """The run coordinator queues retrain_job runs one at a time, by the tag the job carries."""
    import yaml  # type: ignore[import-untyped]

    from creditrisk_assets.jobs import retrain_job

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / instance_yaml).read_text())
    limits = config["run_coordinator"]["config"]["tag_concurrency_limits"]
    ((key, value),) = retrain_job.tags.items()
    assert {"key": key, "value": value, "limit": 1} in limits
