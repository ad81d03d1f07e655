"""The alert sink: a webhook failure is visible to the caller, and the log never carries the URL."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from creditrisk.alerts import Alerter


@pytest.fixture
def failing_webhook() -> Iterator[str]:
    """A webhook on 127.0.0.1 that answers 500, at a URL whose path is the secret."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T0SECRET/B0TOKEN?key=XSECRETX"
    server.shutdown()
    server.server_close()


def test_a_failing_webhook_is_reported_and_logged_without_its_url(
        failing_webhook: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):  # every logger, the HTTP client's too
        delivery = Alerter(failing_webhook).send("creditrisk: test", {"week": "2026-W01"})
    assert "SECRET" not in caplog.text and "B0TOKEN" not in caplog.text
    assert "alert webhook at 127.0.0.1 failed: HTTP 500" in caplog.text
    assert delivery.status == "failed" and not delivery.delivered  # the caller can show it


def test_without_a_webhook_the_alert_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="creditrisk.alerts"):
        delivery = Alerter().send("creditrisk: test", {})
    assert delivery.status == "logged" and delivery.delivered  # the log is the only sink configured
    assert "ALERT creditrisk: test" in caplog.text
