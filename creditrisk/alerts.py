"""Alerts for people: always logged, and POSTed as JSON to a webhook when one is configured.

A failing webhook never fails the pipeline that raised the alert: the alert is still logged, and
`send` says it was not delivered so the caller can show it. The webhook URL is a secret (chat
webhooks carry their token in the path): no log line names more than its host.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("creditrisk.alerts")


class DeliveryStatus(StrEnum):
    """What became of one alert."""

    LOGGED = "logged"  # no webhook is set: the log is the only sink
    DELIVERED = "delivered"  # the webhook accepted it
    FAILED = "failed"  # the webhook refused it or could not be reached: only the log has it


@dataclass(frozen=True)
class Delivery:
    """An alert's status, and for a failed one the cause, named without the URL."""

    status: DeliveryStatus
    problem: str = ""

    @property
    def delivered(self) -> bool:
        """Whether the alert reached every sink that is configured."""
        return self.status is not DeliveryStatus.FAILED

    def __str__(self) -> str:
        return f"{self.status}" + (f" ({self.problem})" if self.problem else "")


@dataclass(frozen=True)
class Alerter:
    """Where alerts go: the log, plus `webhook_url` when set (chosen by `creditrisk.wiring`)."""

    webhook_url: str | None = None
    timeout_s: float = 5.0

    @property
    def webhook_host(self) -> str:
        """The webhook's host: all of its URL that may be shown."""
        return (urlsplit(self.webhook_url).hostname or "?") if self.webhook_url else ""

    def send(self, title: str, details: dict[str, Any]) -> Delivery:
        """Log the alert; POST it to the webhook if set; say whether it was delivered."""
        log.warning("ALERT %s %s", title, details)
        if not self.webhook_url:
            return Delivery(DeliveryStatus.LOGGED)
        # urllib, not httpx: httpx logs every request's full URL at INFO, which would leak the secret.
        body = json.dumps({"title": title, **details}, default=str).encode()
        request = urllib.request.Request(self.webhook_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):  # noqa: S310 - configured URL
                return Delivery(DeliveryStatus.DELIVERED)
        except urllib.error.HTTPError as exc:  # before URLError: it is one
            cause = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:  # the exception's text may quote the URL
            reason = getattr(exc, "reason", exc)
            cause = type(reason if isinstance(reason, BaseException) else exc).__name__
        log.error("alert webhook at %s failed: %s", self.webhook_host, cause)
        return Delivery(DeliveryStatus.FAILED, f"webhook at {self.webhook_host}: {cause}")
