"""deploy/k8s/ingress.yaml: the public entry is rate limited per client at the ingress controller.

The app's own limit is per replica (N replicas let a client through about N times as often), so the
ingress controller's limit is the boundary a client meets first; checked offline, as the rest of
deploy/ (the annotations are ingress-nginx's, the controller deploy/k8s/networkpolicy.yaml admits).
"""
from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]
from k8s_model import SERVING_NS, docs_of, rayservice

SERVE_SERVICE = f"{rayservice()['metadata']['name']}-serve-svc"  # the Service KubeRay makes for Serve
LIMIT = "nginx.ingress.kubernetes.io/limit-rpm"


def _ingresses() -> list[dict[str, Any]]:
    return docs_of("Ingress", SERVING_NS)


def _paths(ingress: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]


def _app_limit() -> dict[str, Any]:
    (app,) = yaml.safe_load(rayservice()["spec"]["serveConfigV2"])["applications"]
    return dict(app["args"]["rate_limit"])


def test_every_public_path_goes_to_serve_through_the_admitted_controller_with_a_limit() -> None:
    assert _ingresses(), "no Ingress for the public API"
    for ingress in _ingresses():
        name, notes = ingress["metadata"]["name"], ingress["metadata"]["annotations"]
        assert ingress["spec"]["ingressClassName"] == "nginx", name  # ingress-nginx, as the policy admits
        assert int(notes[LIMIT]) > 0 and int(notes["nginx.ingress.kubernetes.io/limit-connections"]) > 0, name
        assert int(notes["nginx.ingress.kubernetes.io/limit-burst-multiplier"]) >= 1, name
        assert not [k for k in notes if "snippet" in k], name  # snippets run config as code: never
        for path in _paths(ingress):
            backend = path["backend"]["service"]
            assert (backend["name"], backend["port"]) == (SERVE_SERVICE, {"number": 8000}), name


def test_predict_has_its_own_ingress_at_the_apps_per_client_figure() -> None:
    (predict,) = [i for i in _ingresses()
                  if [(p["path"], p["pathType"]) for p in _paths(i)] == [("/predict", "Exact")]]
    app = _app_limit()
    assert app["enabled"] is True
    assert int(predict["metadata"]["annotations"][LIMIT]) == app["requests_per_minute"]
    others = [int(i["metadata"]["annotations"][LIMIT]) for i in _ingresses() if i is not predict]
    assert others and all(rpm >= app["requests_per_minute"] for rpm in others)  # pages load several files
