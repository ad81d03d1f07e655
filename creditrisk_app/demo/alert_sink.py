"""A webhook receiver on 127.0.0.1 that keeps the alerts it is sent (the demo's pager)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertSink:
    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    sink.alerts.append(json.loads(body))
                    self.send_response(204)
                except ValueError:
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep the demo's output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AlertSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
