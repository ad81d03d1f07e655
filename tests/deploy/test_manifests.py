"""deploy/rayservice.yaml and deploy/k8s/: what a security review asks of them, checked offline.

No cluster: every object is validated against the Kubernetes schemas of K8S_VERSION (bundled by
`kubernetes-validate`, strict) or, for the RayService, against KubeRay's CRD schema (vendored).
What only a cluster can show (the CNI enforcing the policies, KubeRay and Ray starting with the
token, the images running) is not tested here.
The network policies are checked in `test_network_policies.py`, the pods in `test_pod_security.py`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from k8s_model import (
    CREDENTIAL_IN_URL,
    DAGSTER_NS,
    DEPLOY,
    K8S_VERSION,
    SENSITIVE,
    SERVING_NS,
    Workload,
    all_docs,
    docs_of,
    instance_yaml,
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
