"""deploy/k8s/ network policies and ports: exactly the listed flows are admitted, nothing else is
exposed. Checked offline on the manifests, like the rest of tests/deploy; only a cluster's CNI
enforces them."""
from __future__ import annotations

from k8s_model import (
    DAGSTER_NS,
    EXTERNAL,
    MLFLOW_NS,
    SERVING_NS,
    Workload,
    admitted_flows,
    docs_of,
    isolated,
    ray_groups,
    rayservice,
)

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
