"""Alerts for people: always logged, and POSTed as JSON to a webhook when one is configured.

A failing webhook never fails the pipeline that raised the alert: the alert is still logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger("creditrisk.alerts")


@dataclass(frozen=True)
class Alerter:
    """Where alerts go: the log, plus `webhook_url` when set (chosen by `creditrisk.wiring`)."""

    webhook_url: str | None = None
    timeout_s: float = 5.0

    def send(self, title: str, details: dict[str, Any]) -> bool:
        """Log the alert; POST it to the webhook if set. Returns True when a webhook accepted it."""
        log.warning("ALERT %s %s", title, details)
        if not self.webhook_url:
            return False
        try:
            resp = httpx.post(self.webhook_url, json={"title": title, **details}, timeout=self.timeout_s)
            resp.raise_for_status()
            return True
        except httpx.HTTPError as exc:
            log.error("alert webhook %s failed: %s", self.webhook_url, exc)
            return False
