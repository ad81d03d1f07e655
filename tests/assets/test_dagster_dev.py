"""`dagster dev` from the repo root: the UI's GraphQL API lists the assets, the sensor and the schedules."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from creditrisk.settings import get_settings
from creditrisk_app.processes import start_dagster
from serving.runtime import free_port

QUERY = """{
  assetNodes { assetKey { path } }
  repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { name sensorState { status } }
    schedules { name scheduleState { status } } } } }
}"""


@pytest.mark.slow
def test_dagster_dev_serves_the_code_location(tmp_path: Path) -> None:
    service = start_dagster(get_settings({"CREDITRISK_HOME": str(tmp_path)}), port=free_port())
    try:
        req = urllib.request.Request(f"{service.url}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = json.load(resp)["data"]
    finally:
        service.stop()
    assets = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert assets == {"request_log", "base_training_data", "raw_requests", "reference_window",
                      "current_window", "drift_report", "group_outcomes_weekly", "candidate_model",
                      "champion_model"}
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert {(s["name"], s["sensorState"]["status"]) for s in repo["sensors"]} == {("drift_sensor", "RUNNING")}
    assert {(s["name"], s["scheduleState"]["status"]) for s in repo["schedules"]} == \
        {("weekly_drift_schedule", "RUNNING"), ("store_compaction_schedule", "RUNNING"),
         ("store_retention_schedule", "RUNNING")}
    assert (tmp_path / "dagster").is_dir() and any((tmp_path / "dagster").iterdir())
    assert service.proc.poll() is not None  # stopped, with everything it started
