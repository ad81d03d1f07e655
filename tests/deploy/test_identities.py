"""MLflow identities in deploy/: the server runs basic-auth and refuses by default, each workload that
talks to MLflow holds its own user from its own Secret (and no other workload holds one), and the
credentials travel only over TLS to the MLflow pod. Checked offline, like the rest of tests/deploy."""
from __future__ import annotations

import configparser
import shlex
from typing import Any

from k8s_model import (
    CREDENTIAL_IN_URL,
    DAGSTER_NS,
    MLFLOW_NS,
    SERVING_NS,
    Workload,
    one,
)

# Who logs in to MLflow as whom: the Secret per identity (reviewers are people, not in the cluster).
IDENTITY_SECRET = {
    "ray-head": "creditrisk-mlflow-serving",
    "ray-worker": "creditrisk-mlflow-serving",
    "dagster-code-location": "creditrisk-mlflow-trainer",
    "dagster-run": "creditrisk-mlflow-trainer",
}
USER_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
CA_SECRET = "creditrisk-mlflow-ca"


def _main(pod: Workload) -> dict[str, Any]:
    (container,) = pod.spec["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _server() -> tuple[dict[str, Any], dict[str, Any]]:
    spec = one("Deployment", "creditrisk-mlflow")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return spec, container


def _mlflow_uri(pod: Workload, container: dict[str, Any]) -> str:
    """CREDITRISK_MLFLOW_URI as the container gets it: its own env, else a ConfigMap it loads."""
    if "CREDITRISK_MLFLOW_URI" in _env(container):
        return str(_env(container)["CREDITRISK_MLFLOW_URI"]["value"])
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            cm = one("ConfigMap", source["configMapRef"]["name"])
            if cm["metadata"]["namespace"] == pod.namespace and "CREDITRISK_MLFLOW_URI" in cm["data"]:
                return str(cm["data"]["CREDITRISK_MLFLOW_URI"])
    raise AssertionError(f"{pod.name}: no CREDITRISK_MLFLOW_URI")


def test_each_mlflow_client_logs_in_as_its_own_identity_and_nobody_else_holds_one(
        pods: list[Workload]) -> None:
    assert {p.name for p in pods} >= set(IDENTITY_SECRET)
    for pod in pods:
        for container in pod.containers():
            env = _env(container)
            if pod.name in IDENTITY_SECRET and container in pod.spec["containers"]:
                for var, key in zip(USER_VARS, ("username", "password"), strict=True):
                    assert env[var]["valueFrom"]["secretKeyRef"] == {"name": IDENTITY_SECRET[pod.name],
                                                                     "key": key}, (pod.name, var)
            else:  # the webserver, the daemon, the MLflow server itself, init containers
                assert not set(env) & set(USER_VARS), (pod.name, container["name"])
    # A Secret lives in one namespace: the serving user only in serving's, the trainer in Dagster's.
    namespaces = {secret: {p.namespace for p in pods if IDENTITY_SECRET.get(p.name) == secret}
                  for secret in IDENTITY_SECRET.values()}
    assert namespaces == {"creditrisk-mlflow-serving": {SERVING_NS},
                          "creditrisk-mlflow-trainer": {DAGSTER_NS}}


def test_clients_reach_the_mlflow_service_over_tls_trusting_the_mounted_ca(pods: list[Workload]) -> None:
    service = one("Service", "mlflow")
    meta, (port,) = service["metadata"], service["spec"]["ports"]
    expected = f"https://{meta['name']}.{meta['namespace']}.svc.cluster.local:{port['port']}"
    for pod in pods:
        if pod.name not in IDENTITY_SECRET:
            continue
        container = _main(pod)
        assert _mlflow_uri(pod, container) == expected, pod.name
        ca_file = _env(container)["MLFLOW_TRACKING_SERVER_CERT_PATH"]["value"]
        volumes = {v["name"]: v for v in pod.spec["volumes"]}
        (mount,) = [m for m in container["volumeMounts"] if ca_file.startswith(m["mountPath"] + "/")]
        assert volumes[mount["name"]]["secret"]["secretName"] == CA_SECRET, pod.name
        assert ca_file.rsplit("/", 1)[1] == "ca.crt" and mount.get("readOnly") is True, pod.name


def test_the_server_runs_basic_auth_refusing_anyone_not_granted() -> None:
    spec, container = _server()
    command = container["command"]
    assert command[:2] == ["mlflow", "server"]
    arg = {command[i]: command[i + 1] for i in range(2, len(command) - 1) if command[i].startswith("--")}
    assert arg["--app-name"] == "basic-auth"
    env = _env(container)
    # The admin's password and the server's secret key come from a Secret; the users' store too.
    for var, key in (("MLFLOW_AUTH_ADMIN_PASSWORD", "admin_password"),
                     ("MLFLOW_FLASK_SERVER_SECRET_KEY", "flask_secret_key"),
                     ("PGPASSWORD", "postgresql_password")):
        assert env[var]["valueFrom"]["secretKeyRef"] == {"name": "creditrisk-mlflow-server", "key": key}, var
    config_path = env["MLFLOW_AUTH_CONFIG_PATH"]["value"]
    folder, name = config_path.rsplit("/", 1)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == folder]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    ini = configparser.ConfigParser()
    ini.read_string(one("ConfigMap", volume["configMap"]["name"])["data"][name])
    auth = ini["mlflow"]
    assert auth["default_permission"] == "NO_PERMISSIONS"  # anonymous and ungranted users: refused
    assert "admin_password" not in auth
    for uri in (auth["database_uri"], arg["--backend-store-uri"]):
        assert uri.startswith("postgresql+psycopg://") and not CREDENTIAL_IN_URL.search(uri), uri
    assert 0 < int(auth["auth_cache_ttl_seconds"]) <= 300  # a revoked password stops working soon


def test_tls_terminates_in_the_mlflow_pod() -> None:
    spec, container = _server()
    command = container["command"]
    uvicorn = shlex.split(command[command.index("--uvicorn-opts") + 1])
    files = {uvicorn[i]: uvicorn[i + 1] for i in range(0, len(uvicorn) - 1, 2)}
    (tls,) = [v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == "creditrisk-mlflow-tls"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == tls["name"]]
    assert files == {"--ssl-certfile": f"{mount['mountPath']}/tls.crt",
                     "--ssl-keyfile": f"{mount['mountPath']}/tls.key"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS", probe
    # MLflow refuses Host headers it was not told about: the in-cluster name must be one of them.
    service = one("Service", "mlflow")
    in_cluster = (f"{service['metadata']['name']}.{MLFLOW_NS}.svc.cluster.local:"
                  f"{service['spec']['ports'][0]['port']}")
    assert in_cluster in command[command.index("--allowed-hosts") + 1].split(",")
