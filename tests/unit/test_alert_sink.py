"""The alert sink: a webhook failure is visible to the caller, and the log never carries the URL."""
from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from creditrisk.alerts import Alerter

POSTS: list[str] = []  # what the failing webhook received


@pytest.fixture
def failing_webhook() -> Iterator[str]:
    """A webhook on 127.0.0.1 that answers 500, at a URL whose path is the secret."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            POSTS.append(self.path)
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
        POSTS.clear()
        alerter = Alerter(failing_webhook, retry_waits_s=(0.01, 0.02))
        delivery = alerter.send("creditrisk: test", {})
    assert alerter.undelivered == [1]  # a replica exports it as creditrisk_alerts_undelivered_total
    assert "SECRET" not in caplog.text and "B0TOKEN" not in caplog.text
    assert "alert webhook at 127.0.0.1 failed: HTTP 500 (3 attempts)" in caplog.text
    assert len(POSTS) == 3  # a 5xx is retried with back-off before the alert is given up
    assert delivery.status == "failed" and not delivery.delivered  # the caller can show it


def test_without_a_webhook_the_alert_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="creditrisk.alerts"):
        alerter = Alerter()
        delivery = alerter.send("creditrisk: test", {})
    assert delivery.status == "logged" and delivery.delivered  # the log is the only sink configured
    assert alerter.undelivered == [0]
    assert "ALERT creditrisk: test" in caplog.text


@pytest.fixture
def garbage_webhook() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers a POST with something that is not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-not-a-web-server\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/services/T0SECRET/B0TOKEN"
    listener.close()


@pytest.mark.parametrize("url", ["webhook/services/T0SECRET/B0TOKEN",  # no scheme: a ValueError quoting it
                                 "http://127.0.0.1:9/services/T0SECRET B0TOKEN",  # InvalidURL quoting it
                                 "garbage"])
def test_any_delivery_failure_is_returned_never_raised_and_never_quotes_the_url(
        url: str, garbage_webhook: str, caplog: pytest.LogCaptureFixture) -> None:
    """Before: a malformed URL raised a ValueError whose text is the URL (the run's error, logged by
    Dagster), and an answer that is not HTTP raised http.client.BadStatusLine out of `send`."""
    url = garbage_webhook if url == "garbage" else url
    with caplog.at_level(logging.DEBUG):
        delivery = Alerter(url, timeout_s=2.0).send("creditrisk: test", {"week": "2026-W01"})
    assert delivery.status == "failed" and delivery.problem
    assert "SECRET" not in caplog.text + delivery.problem and "B0TOKEN" not in caplog.text + delivery.problem
