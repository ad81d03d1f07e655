"""deploy/k8s/dagster/ and the references between manifests: the Dagster instance, its run launcher
and workspace, and every Service, account and ConfigMap a pod names; checked offline."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from k8s_model import DAGSTER_NS, DEPLOY, Workload, docs_of, instance_yaml, one, pyproject, workspace_yaml


def test_instance_config_is_deploy_dagster_yaml_plus_the_cluster_parts(tmp_path: Path) -> None:
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes.config_class import class_from_code_pointer

    base = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    config = instance_yaml()
    assert {k: config[k] for k in base} == base  # storage, run coordinator, telemetry: the same
    assert set(config) - set(base) == {"run_launcher", "run_monitoring", "compute_logs"}
    # Dagster's own schema for the instance and for each configured class (nothing is started).
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    dagster_instance_config(str(tmp_path))
    for key in ("run_launcher", "run_coordinator", "compute_logs"):
        klass = class_from_code_pointer(config[key]["module"], config[key]["class"])
        result = validate_config(klass.config_type(), config[key].get("config", {}))
        assert result.success, (key, [e.message for e in result.errors])
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["run_monitoring"]["enabled"] is True


def test_run_launcher_is_confined(run_pod: dict[str, Any]) -> None:
    launcher = instance_yaml()["run_launcher"]["config"]
    assert launcher["job_namespace"] == DAGSTER_NS
    assert launcher["instance_config_map"] == "creditrisk-dagster-instance"
    assert launcher["only_allow_user_defined_k8s_config_fields"] == {}  # run tags cannot change the pod
    assert launcher["only_allow_user_defined_env_vars"] == []
    for name in launcher["env_config_maps"]:
        one("ConfigMap", name)
    spec = run_pod["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "creditrisk-dagster-code"
    role = one("Role", "creditrisk-dagster-run-launcher")
    assert {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]} == {
        *{("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")},
        *{("", "pods", v) for v in ("get", "list", "watch")}, ("", "pods/log", "get")}
    binding = one("RoleBinding", "creditrisk-dagster-run-launcher")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert {(s["name"], s["namespace"]) for s in binding["subjects"]} == {
        ("creditrisk-dagster-daemon", DAGSTER_NS), ("creditrisk-dagster-webserver", DAGSTER_NS)}


def test_workspace_points_at_the_code_location_service() -> None:
    (entry,) = workspace_yaml()["load_from"]
    grpc = entry["grpc_server"]
    service = one("Service", "creditrisk-code-location")
    meta = service["metadata"]
    assert grpc["host"] == f"{meta['name']}.{meta['namespace']}.svc.cluster.local"
    assert grpc["port"] == service["spec"]["ports"][0]["port"] == 4000
    dagster_cfg = pyproject()["tool"]["dagster"]
    assert grpc["location_name"] == dagster_cfg["code_location_name"]
    code = one("Deployment", "creditrisk-code-location")["spec"]["template"]["spec"]["containers"][0]
    command = code["command"]
    assert command[command.index("--module-name") + 1] == dagster_cfg["module_name"]
    assert command[command.index("--port") + 1] == "4000"


def test_services_and_references_resolve(pods: list[Workload]) -> None:
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs_of("ServiceAccount")}
    config_maps = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs_of("ConfigMap")}
    for pod in pods:
        assert (pod.namespace, pod.spec["serviceAccountName"]) in accounts, pod.name
        for volume in pod.spec.get("volumes", []):
            if "configMap" in volume:
                assert (pod.namespace, volume["configMap"]["name"]) in config_maps, pod.name
        for container in pod.containers():
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert (pod.namespace, source["configMapRef"]["name"]) in config_maps, pod.name
    for service in docs_of("Service"):
        targets = [p for p in pods if p.namespace == service["metadata"]["namespace"]
                   and service["spec"]["selector"].items() <= p.labels.items()]
        # a headless discovery Service (Prometheus's way to every Ray pod) spans head and workers
        headless = service["spec"].get("clusterIP") == "None"
        assert len(targets) >= 1 if headless else len(targets) == 1, service["metadata"]["name"]
    daemon = one("Deployment", "creditrisk-dagster-daemon")["spec"]
    assert daemon["replicas"] == 1 and daemon["strategy"] == {"type": "Recreate"}
