"""Every answer of the real service carries the browser security headers (issue 20, finding 5)."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.registry.client import Registry
from creditrisk.store.local import LocalRequestStore
from serving.config import PredictorConfig, ServiceArgs
from serving.logger import InferenceLogger
from serving.predictor import ChampionPredictor
from serving.replica import Replica
from serving.wal import SegmentLog


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/", None, 200), ("GET", "/docs", None, 200), ("GET", "/openapi.json", None, 200),
    ("POST", "/predict", EXAMPLE_APPLICANT, 200), ("POST", "/predict", {"person_age": 1}, 422),
    ("GET", "/static/portal.js", None, 200)])
def test_each_answer_forbids_framing_sniffing_and_foreign_code(client: httpx.Client, method: str, path: str,
                                                                body: dict | None, status: int) -> None:
    answer = client.request(method, path, json=body)
    assert answer.status_code == status
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    csp = dict(d.strip().split(" ", 1) for d in answer.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert csp["script-src"] == "'self'" and "unsafe" not in answer.headers["content-security-policy"]


def test_docs_are_served_from_this_origin(client: httpx.Client) -> None:
    page = client.get("/docs").text
    assert "cdn." not in page and "https://" not in page and "<script>" not in page  # no inline code
    for asset in ("docs-assets/swagger-ui-bundle.js", "docs-assets/swagger-ui.css", "static/docs.js"):
        assert f'"{asset}"' in page
        assert client.get(f"/{asset}").status_code == 200


def test_an_unexpected_error_answer_carries_them_too(tmp_path: Path) -> None:
    """Before: a 500 (Starlette's ServerErrorMiddleware answers it, outside every added middleware) had
    none of the headers. Built without Ray: the ASGI app of one replica whose scoring breaks."""
    from fastapi.testclient import TestClient

    from serving.api import build_api

    store = LocalRequestStore(tmp_path / "store")
    log = InferenceLogger(lambda: store, SegmentLog(tmp_path / "wal", "r1"), flush_interval_s=60)
    predictor = ChampionPredictor(lambda: Registry("sqlite://"), PredictorConfig())
    replica = Replica(ServiceArgs(flush_interval_s=60), predictor, log, outcomes_token="t", replica_id="r1")

    async def broken(row: dict) -> None:
        raise RuntimeError("scoring broke")

    predictor.score = broken  # type: ignore[method-assign]
    with TestClient(build_api(replica), raise_server_exceptions=False) as c:
        answer = c.post("/predict", json=EXAMPLE_APPLICANT)
    assert answer.status_code == 500 and answer.json()["error"] == "internal_error"
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert answer.headers.get("x-frame-options") == "DENY"
    assert "frame-ancestors 'none'" in answer.headers.get("content-security-policy", "")
