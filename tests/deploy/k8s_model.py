"""The deploy/ manifests as data for the tests beside this file: loading, schemas, workloads, flows.

Nothing here talks to a cluster. Kubernetes' own object schemas come from the `kubernetes-validate`
package (bundled JSON schemas, strict: unknown fields refused); the RayService from KubeRay's CRD,
vendored in schemas/ (see vendor_kuberay_schema.py); the run pods the K8sRunLauncher creates are
built by dagster-k8s's own job-construction code from the instance ConfigMap.
"""
from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RAYSERVICE = DEPLOY / "rayservice.yaml"
K8S_DIR = DEPLOY / "k8s"
DOCKER_DIR = DEPLOY / "docker"
KUBERAY_SCHEMA = Path(__file__).resolve().parent / "schemas" / "kuberay-rayservice-v1.schema.json"

# The Kubernetes version the manifests are validated for (kubernetes-validate's bundled schemas).
K8S_VERSION = "1.33.0"

SERVING_NS = "creditrisk-serving"
DAGSTER_NS = "creditrisk-dagster"
MLFLOW_NS = "creditrisk-mlflow"
APP_UID = 10001  # the images' user (deploy/docker/*) and every pod's runAsUser

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    return [RAYSERVICE, *sorted(K8S_DIR.rglob("*.yaml"))]


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def all_docs() -> list[tuple[Path, Doc]]:
    return [(path, doc) for path in manifest_files() for doc in load(path)]


def docs_of(kind: str, namespace: str | None = None) -> list[Doc]:
    return [d for _, d in all_docs() if d["kind"] == kind
            and (namespace is None or d["metadata"].get("namespace") == namespace)]


def one(kind: str, name: str) -> Doc:
    (doc,) = [d for d in docs_of(kind) if d["metadata"]["name"] == name]
    return doc


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


VERSION = pyproject()["project"]["version"]
SERVING_IMAGE = f"creditrisk/serving:{VERSION}"
DAGSTER_IMAGE = f"creditrisk/code-location:{VERSION}"


# --- schemas ----------------------------------------------------------------------------------

def validate_core(doc: Doc) -> str:
    """Validate a built-in Kubernetes object (strict); returns the schema version used."""
    return kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def validate_pod_template(template: Doc, name: str) -> None:
    """A pod template embedded in a custom resource, as a core PodTemplate (strict)."""
    validate_core({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name},
                   "template": template})


def _strict(node: Any) -> Any:
    """The CRD's structural schema with unknown fields refused, as `kubectl apply` (strict field
    validation, the default since Kubernetes 1.27) refuses them instead of pruning them."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@cache
def _rayservice_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_strict(json.loads(KUBERAY_SCHEMA.read_text())))


def validate_rayservice(doc: Doc) -> None:
    """Against KubeRay's RayService CRD (v1.6.2, ray.io/v1). CEL rules (x-kubernetes-validations)
    are not evaluated: only the API server can."""
    errors = sorted(_rayservice_validator().iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        raise jsonschema.ValidationError(
            "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]))


# --- the Dagster instance and the run pods it launches -----------------------------------------

def instance_yaml() -> dict[str, Any]:
    return yaml.safe_load(one("ConfigMap", "creditrisk-dagster-instance")["data"]["dagster.yaml"])


def workspace_yaml() -> dict[str, Any]:
    return yaml.safe_load(one("ConfigMap", "creditrisk-dagster-instance")["data"]["workspace.yaml"])


def run_job(tmp_dir: Path, image: str) -> Doc:
    """The Job the K8sRunLauncher of the instance ConfigMap creates for a run, built by dagster-k8s
    itself (the same calls as K8sRunLauncher._launch_k8s_job_with_args), as the API would get it.
    Only the cluster connection differs: a kubeconfig that points nowhere (nothing is sent)."""
    import kubernetes
    from dagster import DagsterRun
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.job import construct_dagster_k8s_job

    kubeconfig = tmp_dir / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "users": [{"name": "none", "user": {}}]}))
    config = dict(instance_yaml()["run_launcher"]["config"])
    config.update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    launcher = K8sRunLauncher(**config)
    run = DagsterRun(job_name="retrain_job", run_id="0123456789abcdef")
    context = launcher.get_container_context_for_run(run)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=image, run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"], job_name="dagster-run-0123456789abcdef",
        component="run_worker", user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": "retrain_job", "dagster/run-id": run.run_id},
        env_vars=[{"name": "DAGSTER_RUN_JOB_NAME", "value": "retrain_job"}])
    body = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    body["metadata"]["namespace"] = context.namespace
    return body


# --- workloads: every pod these manifests make ---------------------------------------------------

@dataclass
class Workload:
    name: str
    namespace: str
    labels: dict[str, str]
    spec: dict[str, Any] = field(default_factory=dict)  # the PodSpec; empty for peers outside

    def containers(self) -> Iterator[dict[str, Any]]:
        yield from self.spec.get("initContainers", [])
        yield from self.spec.get("containers", [])


def rayservice() -> Doc:
    return load(RAYSERVICE)[0]


def ray_groups() -> dict[str, Doc]:
    """{'ray-head': headGroupSpec, 'ray-worker': the (single) worker group}."""
    cluster = rayservice()["spec"]["rayClusterConfig"]
    (worker,) = cluster["workerGroupSpecs"]
    return {"ray-head": cluster["headGroupSpec"], "ray-worker": worker}


def workloads(run_pod: Doc | None = None) -> list[Workload]:
    namespace = rayservice()["metadata"]["namespace"]
    out = [Workload(name, namespace, group["template"]["metadata"]["labels"], group["template"]["spec"])
           for name, group in ray_groups().items()]
    for dep in docs_of("Deployment"):  # dagster-daemon, ..., mlflow-server
        labels = dep["spec"]["template"]["metadata"]["labels"]
        app = labels["app.kubernetes.io/name"].removeprefix("creditrisk-")
        out.append(Workload(f"{app}-{labels['app.kubernetes.io/component']}", dep["metadata"]["namespace"],
                            labels, dep["spec"]["template"]["spec"]))
    if run_pod is not None:
        template = run_pod["spec"]["template"]
        out.append(Workload("dagster-run", run_pod["metadata"]["namespace"], template["metadata"]["labels"],
                            template["spec"]))
    return out


# Peers outside these manifests, as the NetworkPolicies name them (the labels their charts set), and
# pods that must never get in: another pod in each of our namespaces, one anywhere else, and pods
# elsewhere that copy the trusted peers' labels (labels are anyone's to set; namespaces are not).
EXTERNAL = [
    Workload("kuberay-operator", "kuberay-operator", {"app.kubernetes.io/name": "kuberay-operator"}),
    Workload("ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    Workload("stranger-serving", SERVING_NS, {"app": "debug-shell"}),
    Workload("stranger-dagster", DAGSTER_NS, {"app": "debug-shell"}),
    Workload("stranger-mlflow", MLFLOW_NS, {"app": "debug-shell"}),
    Workload("stranger-elsewhere", "default", {"app": "debug-shell"}),
    Workload("impostor-operator", "default", {"app.kubernetes.io/name": "kuberay-operator"}),
    Workload("impostor-ingress", "default", {"app.kubernetes.io/name": "ingress-nginx"}),
    Workload("impostor-ray", "default", {"app.kubernetes.io/name": "creditrisk-serving",
                                         "app.kubernetes.io/component": "ray-worker"}),
    Workload("impostor-dagster", "default", {"app.kubernetes.io/name": "creditrisk-dagster",
                                             "app.kubernetes.io/component": "daemon"}),
]


def namespace_labels(names: set[str]) -> dict[str, dict[str, str]]:
    """Each namespace's labels: those declared in namespaces.yaml, and the one Kubernetes sets."""
    declared = {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in docs_of("Namespace")}
    return {name: {**declared.get(name, {}), "kubernetes.io/metadata.name": name} for name in names}


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {"In": key in labels and labels[key] in values,
              "NotIn": key not in labels or labels[key] not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


Flow = tuple[str, str, int | str]  # (source, target, port); "*" = any source / any port


def admitted_flows(policies: list[Doc], pods: list[Workload]) -> set[Flow]:
    """Every (source, target, port) the NetworkPolicies admit into the pods they select."""
    flows: set[Flow] = set()
    ns_labels = namespace_labels({p.namespace for p in pods})
    for policy in policies:
        ns, spec = policy["metadata"]["namespace"], policy["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]):
            continue
        targets = [p for p in pods if p.namespace == ns and p.spec and selects(spec["podSelector"], p.labels)]
        for rule in spec.get("ingress") or []:
            sources: set[str] = set()
            for peer in rule.get("from") or [{}]:
                if not peer:
                    sources.add("*")  # no `from`: every source, in and outside the cluster
                elif "ipBlock" in peer:
                    sources.add(f"ipBlock:{peer['ipBlock']['cidr']}")
                else:
                    for p in pods:
                        in_ns = (selects(peer["namespaceSelector"], ns_labels[p.namespace])
                                 if "namespaceSelector" in peer else p.namespace == ns)
                        if in_ns and selects(peer.get("podSelector"), p.labels):
                            sources.add(p.name)
            ports: list[int | str] = []
            for port in rule.get("ports") or [{}]:
                if "port" not in port:
                    ports.append("*")
                elif "endPort" in port:
                    ports.extend(range(port["port"], port["endPort"] + 1))
                else:
                    ports.append(port["port"])
            flows |= {(s, t.name, p) for s in sources for t in targets for p in ports}
    return flows


def isolated(policies: list[Doc], pod: Workload) -> bool:
    """Whether some ingress policy selects the pod (else it accepts every connection)."""
    return any(p["metadata"]["namespace"] == pod.namespace and selects(p["spec"]["podSelector"], pod.labels)
               and "Ingress" in p["spec"].get("policyTypes", ["Ingress"]) for p in policies)


# --- odds and ends ------------------------------------------------------------------------------

SENSITIVE = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY$|LOCK_URI|WEBHOOK|CREDENTIAL", re.I)
CREDENTIAL_IN_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")


def effective(pod_spec: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A securityContext field as it applies to the container: its own, else the pod's."""
    own = (container.get("securityContext") or {}).get(key)
    return own if own is not None else (pod_spec.get("securityContext") or {}).get(key)


def image_has_registry_host(image: str) -> bool:
    """Docker's rule: the first path component names a registry host when it has a dot or a
    colon or is `localhost`. Our image references name none (set where you publish)."""
    first, sep, _ = image.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def deep_copy(doc: Doc) -> Doc:
    return copy.deepcopy(doc)
