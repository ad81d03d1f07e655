"""The pods of deploy/: who they run as, what they may do, what they reserve, which hold an API token,
where the write-ahead log lives, and which images they run. Checked offline on the manifests."""
from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]
from k8s_model import (
    APP_UID,
    DAGSTER_IMAGE,
    SERVING_IMAGE,
    SERVING_NS,
    Workload,
    all_docs,
    docs_of,
    effective,
    image_has_registry_host,
    one,
    ray_groups,
    rayservice,
)

WAL_ROOT = "/var/lib/creditrisk/wal"


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
