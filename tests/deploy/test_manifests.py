"""deploy/rayservice.yaml and deploy/k8s/: what a security review asks of them, checked offline.

No cluster: every object is validated against the Kubernetes schemas of K8S_VERSION (bundled by
`kubernetes-validate`, strict) or, for the RayService, against KubeRay's CRD schema (vendored).
What only a cluster can show (the CNI enforcing the policies, KubeRay and Ray starting with the
token, the images running) is not tested here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from k8s_model import (
    APP_UID,
    CREDENTIAL_IN_URL,
    DAGSTER_IMAGE,
    DAGSTER_NS,
    DEPLOY,
    EXTERNAL,
    K8S_VERSION,
    MLFLOW_NS,
    SENSITIVE,
    SERVING_IMAGE,
    SERVING_NS,
    Workload,
    admitted_flows,
    all_docs,
    docs_of,
    effective,
    image_has_registry_host,
    instance_yaml,
    isolated,
    manifest_files,
    one,
    ray_groups,
    rayservice,
    validate_core,
    validate_pod_template,
    validate_rayservice,
)

RAY_TOKEN_SECRET = "creditrisk-ray-auth"
CLUSTER_SCOPED = ("Namespace", "StorageClass")
WAL_ROOT = "/var/lib/creditrisk/wal"


# --- schemas ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_validates_against_the_schemas(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs, path
    for doc in docs:
        assert doc["metadata"].get("namespace") or doc["kind"] in CLUSTER_SCOPED, doc["metadata"]
        if doc["kind"] == "RayService":
            validate_rayservice(doc)
            for group in ray_groups().values():  # and the pods inside it, against Kubernetes' own
                validate_pod_template(group["template"], doc["metadata"]["name"])
        else:
            assert validate_core(doc) == K8S_VERSION.rsplit(".", 1)[0]


def test_the_run_pods_the_launcher_creates_validate_too(run_pod: dict[str, Any]) -> None:
    assert (run_pod["kind"], run_pod["metadata"]["namespace"]) == ("Job", DAGSTER_NS)
    validate_core(run_pod)


def test_a_typo_or_a_wrong_type_fails_validation() -> None:
    """The validators refuse unknown fields (strict), not only wrong types."""
    import jsonschema

    service = rayservice()
    service["spec"]["rayClusterConfig"]["authOptions"]["secretname"] = RAY_TOKEN_SECRET
    with pytest.raises(jsonschema.ValidationError, match="secretname"):
        validate_rayservice(service)
    deployment = one("Deployment", "creditrisk-dagster-daemon")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(jsonschema.ValidationError, match="readOnlyRootFileSystem"):
        validate_core(deployment)


# --- the network ----------------------------------------------------------------------------------

def _flows(pods: list[Workload], namespace: str) -> set[tuple[str, str, int | str]]:
    return admitted_flows(docs_of("NetworkPolicy", namespace), pods + EXTERNAL)


def test_serving_network_policy_admits_exactly_the_listed_flows(pods: list[Workload]) -> None:
    ray = ("ray-head", "ray-worker")
    assert _flows(pods, SERVING_NS) == {
        ("kuberay-operator", "ray-head", 8265),      # the operator deploys and watches Serve
        ("ingress-nginx", "ray-worker", 8000),       # user traffic, to the workers only
        *{(src, dst, "*") for src in ray for dst in ray},  # Ray's nodes to each other (GCS 6379 ...)
    }


def test_dagster_network_policy_admits_exactly_the_listed_flows(pods: list[Workload]) -> None:
    assert _flows(pods, DAGSTER_NS) == {
        ("ingress-nginx", "dagster-webserver", 3000),
        ("dagster-webserver", "dagster-code-location", 4000),
        ("dagster-daemon", "dagster-code-location", 4000),
    }


def test_mlflow_network_policy_admits_exactly_its_clients(pods: list[Workload]) -> None:
    clients = ("dagster-code-location", "dagster-run", "ray-head", "ray-worker", "ingress-nginx")
    assert _flows(pods, MLFLOW_NS) == {(src, "mlflow-server", 5000) for src in clients}


def test_every_pod_is_isolated_and_policies_are_ingress_only(pods: list[Workload]) -> None:
    policies = docs_of("NetworkPolicy")
    for pod in pods + [p for p in EXTERNAL if p.namespace in (SERVING_NS, DAGSTER_NS, MLFLOW_NS)]:
        assert isolated(policies, pod), f"{pod.name} accepts every connection: no policy selects it"
    for policy in policies:  # egress is not restricted here (README): no rule to misread
        assert policy["spec"]["policyTypes"] == ["Ingress"] and "egress" not in policy["spec"]


def test_the_dashboard_is_reachable_only_by_the_operator_and_the_cluster(pods: list[Workload]) -> None:
    head = ray_groups()["ray-head"]
    host = head["rayStartParams"].get("dashboard-host", "0.0.0.0")  # KubeRay's default: all addresses
    if host in ("127.0.0.1", "localhost"):
        return
    reach = {src for src, dst, port in _flows(pods, SERVING_NS) if dst == "ray-head" and port in (8265, "*")}
    assert reach == {"kuberay-operator", "ray-head", "ray-worker"}


def test_no_ray_client_port_and_user_traffic_skips_the_head() -> None:
    service = rayservice()
    assert service["spec"]["excludeHeadPodFromServeSvc"] is True
    for name, group in ray_groups().items():
        (container,) = group["template"]["spec"]["containers"]
        ports = {p["containerPort"]: p["name"] for p in container.get("ports", [])}
        assert 10001 not in ports and "client" not in ports.values(), name
        assert ports.get(8000) == "serve", name  # KubeRay's serve Service takes the head's `serve` port
        assert set(ports) <= {6379, 8265, 8000}, name  # no HAProxy stats/metrics, no Ray metrics
        assert "ray-client-server-port" not in group["rayStartParams"], name


def test_no_host_ports_or_host_namespaces(pods: list[Workload]) -> None:
    for pod in pods:
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.spec.get(key), (pod.name, key)
        for container in pod.containers():
            assert all("hostPort" not in p for p in container.get("ports", [])), (pod.name, container["name"])
    for service in docs_of("Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]["name"]


# --- Ray's token -----------------------------------------------------------------------------------

def test_every_ray_container_has_token_auth_from_the_secret() -> None:
    cluster = rayservice()["spec"]["rayClusterConfig"]
    # KubeRay adds the same two variables to the containers it injects (autoscaler, wait-gcs-ready)
    # and sends the token to the dashboard itself, from this Secret (key `auth_token`).
    assert cluster["authOptions"] == {"mode": "token", "secretName": RAY_TOKEN_SECRET}
    for name, group in ray_groups().items():
        (container,) = group["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"] == {"name": "RAY_AUTH_MODE", "value": "token"}, name
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": RAY_TOKEN_SECRET,
                                                                        "key": "auth_token"}, name
        assert "RAY_AUTH_TOKEN_PATH" not in env, name
        assert env["RAY_USAGE_STATS_ENABLED"]["value"] == "0", name


# --- pods: users, privileges, resources, tokens, images --------------------------------------------

def _check_wal_init(pod: Workload, container: dict[str, Any]) -> None:
    """The one container that starts as root: it may only chown the WAL folder."""
    assert (pod.name, container["name"]) == ("ray-worker", "wal-permissions")
    ctx = container["securityContext"]
    assert ctx["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
    assert not ctx.get("privileged")
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/var/lib/creditrisk/wal"]
    assert container["command"][-1] == (f"chmod 0700 /var/lib/creditrisk/wal && "
                                        f"chown {APP_UID}:{APP_UID} /var/lib/creditrisk/wal")


def test_no_container_runs_as_root_or_with_privileges(pods: list[Workload]) -> None:
    autoscaler = rayservice()["spec"]["rayClusterConfig"]["autoscalerOptions"]
    for pod in pods:
        pod_ctx = pod.spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True and pod_ctx["runAsUser"] == APP_UID, pod.name
        assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"}, pod.name
        sidecar = [{"name": "autoscaler", **autoscaler}] if pod.name == "ray-head" else []
        for container in [*pod.containers(), *sidecar]:
            where = (pod.name, container["name"])
            if effective(pod.spec, container, "runAsUser") == 0:
                _check_wal_init(pod, container)
                continue
            assert effective(pod.spec, container, "runAsNonRoot") is True, where
            assert effective(pod.spec, container, "runAsUser") == APP_UID, where
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False and not ctx.get("privileged"), where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where


def test_every_container_has_requests_and_limits(pods: list[Workload]) -> None:
    autoscaler = rayservice()["spec"]["rayClusterConfig"]["autoscalerOptions"]
    containers = [(pod.name, c) for pod in pods for c in pod.containers()] + [("ray-head", autoscaler)]
    for where, container in containers:
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), \
                (where, container.get("name"), kind)
        # memory limit = request: a pod is never OOM-killed for memory the node promised it
        assert container["resources"]["limits"]["memory"] == container["resources"]["requests"]["memory"], \
            (where, container.get("name"))


def test_only_the_pods_that_call_the_kubernetes_api_get_a_token(pods: list[Workload]) -> None:
    callers = {"dagster-daemon", "dagster-webserver"}  # run launcher: create/watch/delete Jobs
    for pod in pods:
        assert (pod.spec.get("automountServiceAccountToken", True) is not False) == (pod.name in callers), \
            pod.name
    # In the Ray head pod only KubeRay's autoscaler sidecar mounts the token (it scales the cluster).
    head = ray_groups()["ray-head"]["template"]["spec"]
    (projected,) = [v for v in head["volumes"] if "projected" in v]
    assert any("serviceAccountToken" in s for s in projected["projected"]["sources"])
    mounts = rayservice()["spec"]["rayClusterConfig"]["autoscalerOptions"]["volumeMounts"]
    assert {"name": projected["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "readOnly": True} in mounts
    for pod in pods:
        for container in pod.containers():
            assert all(m["name"] != projected["name"] for m in container.get("volumeMounts", [])), pod.name
    code_sa = one("ServiceAccount", "creditrisk-dagster-code")
    serving_sa = one("ServiceAccount", "creditrisk-serving")
    assert code_sa["automountServiceAccountToken"] is False
    assert serving_sa["automountServiceAccountToken"] is False


def test_no_pod_uses_a_host_path(pods: list[Workload]) -> None:
    assert not [(pod.name, v["name"]) for pod in pods for v in pod.spec.get("volumes", []) if "hostPath" in v]


def test_the_write_ahead_log_is_one_shared_volume_with_a_folder_per_node(pods: list[Workload]) -> None:
    """Every worker mounts the same ReadWriteMany claim (NFS v4.1: locks are leases) at the log's root,
    knows its node, and drains before it stops; the stale-log bound is set."""
    (claim,) = [d for d in docs_of("PersistentVolumeClaim", SERVING_NS) if d["metadata"]["name"] ==
                "creditrisk-request-wal"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (storage_class,) = [d for _, d in all_docs() if d["kind"] == "StorageClass"]
    assert storage_class["metadata"]["name"] == claim["spec"]["storageClassName"]
    assert storage_class["provisioner"] == "filestore.csi.storage.gke.io"
    assert storage_class["parameters"]["protocol"] == "NFS_V4_1"
    assert storage_class["reclaimPolicy"] == "Retain"
    worker = ray_groups()["ray-worker"]["template"]["spec"]
    (container,) = worker["containers"]
    (volume,) = [v for v in worker["volumes"] if v["name"] == "request-wal"]
    assert volume["persistentVolumeClaim"] == {"claimName": "creditrisk-request-wal"}
    assert {"name": "request-wal", "mountPath": WAL_ROOT} in container["volumeMounts"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CREDITRISK_WAL_DIR"]["value"] == WAL_ROOT
    assert env["CREDITRISK_NODE"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["python", "-m", "serving.drain"]
    from serving.drain import DRAIN_TIMEOUT_S

    assert worker["terminationGracePeriodSeconds"] >= DRAIN_TIMEOUT_S + 20  # Ray's own stop after it
    (app,) = yaml.safe_load(rayservice()["spec"]["serveConfigV2"])["applications"]
    assert "wal_dir" not in app["args"]  # one source for the root: the pods' environment
    assert 60 <= app["args"]["log_stale_after_s"] <= 600


def test_images_are_the_two_project_images_pinned_to_the_version(pods: list[Workload]) -> None:
    for pod in pods:
        expected = SERVING_IMAGE if pod.name.startswith("ray-") else DAGSTER_IMAGE
        for container in pod.containers():
            assert container["image"] == expected, (pod.name, container["name"])
            assert not image_has_registry_host(container["image"])
    code = one("Deployment", "creditrisk-code-location")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in code["env"]}
    assert env["DAGSTER_CURRENT_IMAGE"] == code["image"]  # the image every run pod is started from


# --- secrets ---------------------------------------------------------------------------------------

def test_no_secret_is_written_in_the_manifests(pods: list[Workload]) -> None:
    assert not [d for _, d in all_docs() if d["kind"] == "Secret"]
    for pod in pods:
        for container in pod.containers():
            for env in container.get("env", []):
                if SENSITIVE.search(env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), (pod.name, env["name"])
                assert not CREDENTIAL_IN_URL.search(str(env.get("value", ""))), (pod.name, env["name"])
    for config_map in docs_of("ConfigMap"):
        for key, value in config_map["data"].items():
            assert not SENSITIVE.search(key), (config_map["metadata"]["name"], key)
            assert not CREDENTIAL_IN_URL.search(value), (config_map["metadata"]["name"], key)
    # The instance reads its password from the environment, which a Secret fills.
    assert instance_yaml()["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}


# --- the disruption budget -------------------------------------------------------------------------

def test_pdb_selects_the_serving_workers_and_lets_drains_progress() -> None:
    (pdb,) = docs_of("PodDisruptionBudget", SERVING_NS)
    groups = ray_groups()
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector.items() <= groups["ray-worker"]["template"]["metadata"]["labels"].items()
    assert not selector.items() <= groups["ray-head"]["template"]["metadata"]["labels"].items()
    # KubeRay's pods have no scale subresource behind them: only an integer minAvailable works.
    assert "maxUnavailable" not in pdb["spec"] and isinstance(pdb["spec"]["minAvailable"], int)
    assert 1 <= pdb["spec"]["minAvailable"] < groups["ray-worker"]["minReplicas"]


def test_namespaces_enforce_what_they_can() -> None:
    labels = {d["metadata"]["name"]: d["metadata"]["labels"] for d in docs_of("Namespace")}
    assert labels[DAGSTER_NS]["pod-security.kubernetes.io/enforce"] == "restricted"
    # serving: the chown of the WAL's shared volume (root, CHOWN) is beyond `restricted`, where it is warned
    assert labels[SERVING_NS]["pod-security.kubernetes.io/warn"] == "restricted"
    assert {d["metadata"].get("namespace") for _, d in all_docs() if d["kind"] not in CLUSTER_SCOPED} \
        == set(labels)
