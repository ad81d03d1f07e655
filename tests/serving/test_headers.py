"""Every answer of the real service carries the browser security headers (issue 20, finding 5)."""
from __future__ import annotations

import httpx
import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT


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
