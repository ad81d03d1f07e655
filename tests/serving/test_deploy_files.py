"""deploy/: the Serve config and the RayService manifest agree with the code (no cluster needed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from ray.serve.schema import ServeDeploySchema

from creditrisk_app.cli import build_parser
from serving.config import DEPLOYMENT_NAME, OUTCOMES_TOKEN_ENV, PredictorConfig, ServiceArgs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _check_serve_config(cfg: dict[str, Any]) -> dict[str, Any]:
    ServeDeploySchema.model_validate(cfg)
    (app,) = cfg["applications"]
    assert app["import_path"] == "serving.app:app_builder"
    args = ServiceArgs.model_validate(app.get("args") or {})  # the builder's typed args
    (dep,) = app["deployments"]
    assert dep["name"] == DEPLOYMENT_NAME
    PredictorConfig.model_validate(dep["user_config"])
    auto = dep["autoscaling_config"]
    # At least two replicas: a replica killed under load costs only the requests in flight on it.
    assert auto["min_replicas"] >= 2 and args.min_replicas == auto["min_replicas"]
    assert auto["max_replicas"] >= auto["min_replicas"] and auto["target_ongoing_requests"] > 0
    assert args.when_log_full == "refuse"  # a deployed service never answers without a record
    assert dep["max_ongoing_requests"] >= dep["user_config"]["max_batch_size"]
    assert dep["user_config"]["reload_interval_s"] <= 15
    env = app["runtime_env"]["env_vars"]  # a registry outage must fail a reload check in seconds
    assert int(env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) <= 2 \
        and float(env["MLFLOW_HTTP_REQUEST_TIMEOUT"]) <= 10
    assert args.allow_client_time is False and args.outcomes_token_env == OUTCOMES_TOKEN_ENV
    # Per-client rate limits are on in every deploy config, counted behind a trusted proxy
    limit = args.rate_limit
    assert limit.enabled is True and limit.trusted_proxies and 0 < limit.requests_per_minute <= 120
    return cfg


def test_serve_config_is_valid_and_binds_loopback() -> None:
    cfg = _check_serve_config(yaml.safe_load((DEPLOY / "serve_config.yaml").read_text()))
    assert cfg["http_options"]["host"] == "127.0.0.1"


def test_rayservice_points_at_remote_mlflow_bigquery_and_the_token_secret() -> None:
    service, account = yaml.safe_load_all((DEPLOY / "rayservice.yaml").read_text())
    assert (service["apiVersion"], service["kind"]) == ("ray.io/v1", "RayService")
    _check_serve_config(yaml.safe_load(service["spec"]["serveConfigV2"]))
    cluster = service["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]] + cluster["workerGroupSpecs"]
    for pod in pods:
        (container,) = pod["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["CREDITRISK_ENV"]["value"] == "production"
        assert env["CREDITRISK_MLFLOW_URI"]["value"].startswith("http")
        assert env["CREDITRISK_BQ_PROJECT"]["value"] and env["CREDITRISK_BQ_DATASET"]["value"]
        assert "secretKeyRef" in env[OUTCOMES_TOKEN_ENV]["valueFrom"]
        assert env["RAY_SERVE_ENABLE_HA_PROXY"]["value"] == "1"
    (app,) = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    args = ServiceArgs.model_validate(app["args"])
    assert args.wal_fsync is True
    for group in cluster["workerGroupSpecs"]:  # replicas run there: their log is on a shared volume
        spec = group["template"]["spec"]
        (container,) = spec["containers"]
        mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        root = {e["name"]: e.get("value") for e in container["env"]}["CREDITRISK_WAL_DIR"]
        (name,) = [n for n, path in mounted.items() if path == root]
        assert "persistentVolumeClaim" in volumes[name]  # outlives the pod and its node
    assert account["kind"] == "ServiceAccount"


def test_cli_has_a_serve_command_that_does_not_import_ray_up_front() -> None:
    args = build_parser().parse_args(["serve", "--port", "8123"])
    assert (args.command, args.port, args.allow_client_time, args.rate_limit) == ("serve", 8123, False, None)
    assert build_parser().parse_args(["serve", "--rate-limit", "30"]).rate_limit == 30
    probe = "import sys, creditrisk_app.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
            "('ray', 'serving', 'dagster')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_serving_imports_no_dagster() -> None:
    probe = ("import sys, serving.app, serving.entry; "
             "print(sorted(m for m in sys.modules if m.startswith('dagster')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
