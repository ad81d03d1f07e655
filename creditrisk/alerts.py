"""Alerts for people: always logged, and POSTed as JSON to a webhook when one is configured.

A failing webhook never fails the pipeline that raised the alert: the alert is still logged.
"""
from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger("creditrisk.alerts")


def send_alert(title: str, details: dict[str, Any], webhook_url: str | None = None,
               timeout_s: float = 5.0) -> bool:
    """Log the alert; POST it to `webhook_url` if set. Returns True when a webhook accepted it."""
    log.warning("ALERT %s %s", title, details)
    if not webhook_url:
        return False
    try:
        resp = httpx.post(webhook_url, json={"title": title, **details}, timeout=timeout_s)
        resp.raise_for_status()
        return True
    except httpx.HTTPError as exc:
        log.error("alert webhook %s failed: %s", webhook_url, exc)
        return False
