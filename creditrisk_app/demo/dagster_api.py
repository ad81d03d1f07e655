"""A small client of the Dagster webserver's GraphQL API (the demo talks to Dagster as a user would).

Plain HTTP on purpose: the demo process never imports Dagster, it launches and watches runs of the
deployed code location exactly like the UI does.
"""
from __future__ import annotations

import time
from typing import Any

import httpx

LOCATION, REPOSITORY = "creditrisk", "__repository__"
DONE = {"SUCCESS", "FAILURE", "CANCELED"}

_LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
_RUNS = """query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
  runId status jobName tags { key value } } } } }"""
_MATS = """query($k: AssetKeyInput!, $p: [String!]) { assetOrError(assetKey: $k) { ... on Asset {
  assetMaterializations(partitions: $p, limit: 1) { partition runId metadataEntries { label __typename
    ... on FloatMetadataEntry { floatValue } ... on IntMetadataEntry { intValue }
    ... on BoolMetadataEntry { boolValue } ... on TextMetadataEntry { text }
    ... on PathMetadataEntry { path } } } } } }"""


_TICKS = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { __typename ... on Sensor {
  sensorState { ticks(limit: 100) { status skipReason runIds timestamp } } } } }"""


class DagsterError(RuntimeError):
    pass


class DagsterAPI:
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def _gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.post(f"{self.url}/graphql", json={"query": query, "variables": variables})
        resp.raise_for_status()
        body = resp.json()
        if body.get("errors"):
            raise DagsterError(f"GraphQL error: {body['errors'][0].get('message')}")
        return body["data"]

    def launch(self, job: str, partition: str, tags: dict[str, str] | None = None) -> str:
        """Launch `job` for one partition, as a schedule tick would (the partition tag)."""
        all_tags = {"dagster/partition": partition, **(tags or {})}
        params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                               "jobName": job},
                  "runConfigData": {},
                  "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]}}
        out = self._gql(_LAUNCH, {"p": params})["launchRun"]
        if out["__typename"] != "LaunchRunSuccess":
            raise DagsterError(f"launching {job}[{partition}] failed: {out}")
        return out["run"]["runId"]

    def runs(self, job: str, partition: str | None = None) -> list[dict[str, Any]]:
        f: dict[str, Any] = {"pipelineName": job}
        if partition:
            f["tags"] = [{"key": "dagster/partition", "value": partition}]
        runs = self._gql(_RUNS, {"f": f})["runsOrError"]["results"]
        for r in runs:
            r["tags"] = {t["key"]: t["value"] for t in r["tags"]}
        return runs

    def wait(self, run_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self._gql(_RUNS, {"f": {"runIds": [run_id]}})["runsOrError"]["results"]
            if runs and runs[0]["status"] in DONE:
                return runs[0]["status"]
            time.sleep(1.0)
        raise DagsterError(f"run {run_id} not finished after {timeout:.0f} s")

    def metadata(self, asset: str, partition: str) -> dict[str, Any] | None:
        """Metadata of the latest materialization of `asset[partition]`, or None."""
        data = self._gql(_MATS, {"k": {"path": [asset]}, "p": [partition]})["assetOrError"]
        mats = (data or {}).get("assetMaterializations") or []
        if not mats:
            return None
        out: dict[str, Any] = {"_run_id": mats[0]["runId"]}
        for e in mats[0]["metadataEntries"]:
            out[e["label"]] = next((e[k] for k in ("floatValue", "intValue", "boolValue", "text", "path")
                                    if k in e), None)
        return out

    def sensor_ticks(self, sensor: str) -> list[dict[str, Any]]:
        sel = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": sensor}
        data = self._gql(_TICKS, {"s": sel})["sensorOrError"]
        return data["sensorState"]["ticks"] if data.get("__typename") == "Sensor" else []

    def close(self) -> None:
        self.http.close()
