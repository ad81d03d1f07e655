"""Alerts for people: always logged, and POSTed as JSON to a webhook when one is configured.

A failing webhook never fails the pipeline that raised the alert: transient failures are retried
with back-off, the alert is still logged, and `send` returns (never raises) that it was not
delivered, so the caller can show it; a replica counts them in a metric, the weekly loop pushes the
time of its last undelivered alert. The webhook URL is a secret (chat
webhooks carry their token in the path): no log line names more than its host.
"""
from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
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
    # Waits before the 2nd and 3rd attempts after a 5xx, 429, timeout or refused connection: a chat
    # webhook's hiccups clear in seconds, and a weekly check can afford 2.5 s more; a 4xx or a
    # malformed URL is not retried (the configuration is wrong, and the check says so).
    retry_waits_s: tuple[float, ...] = (0.5, 2.0)
    # Alerts this sender could not deliver, for the replica's exported counter (`serving.metrics`).
    undelivered: list[int] = field(default_factory=lambda: [0], compare=False, repr=False)

    @property
    def webhook_host(self) -> str:
        """The webhook's host: all of its URL that may be shown."""
        return (urlsplit(self.webhook_url).hostname or "?") if self.webhook_url else ""

    def send(self, title: str, details: dict[str, Any]) -> Delivery:
        """Log the alert; POST it to the webhook if set, retrying transient failures; say how it went."""
        log.warning("ALERT %s %s", title, details)
        if not self.webhook_url:
            return Delivery(DeliveryStatus.LOGGED)
        body = json.dumps({"title": title, **details}, default=str).encode()
        attempts = 0
        for wait in (*self.retry_waits_s, None):
            attempts += 1
            cause, transient = self._post(body)
            if not cause:
                return Delivery(DeliveryStatus.DELIVERED)
            if not transient or wait is None:
                break
            time.sleep(wait)
        log.error("alert webhook at %s failed: %s (%d attempt%s)", self.webhook_host, cause, attempts,
                  "" if attempts == 1 else "s")
        self.undelivered[0] += 1
        return Delivery(DeliveryStatus.FAILED, f"webhook at {self.webhook_host}: {cause}")

    def _post(self, body: bytes) -> tuple[str, bool]:
        """One POST: ("", False) when accepted, else (the cause, named without the URL; transient?)."""
        # urllib, not httpx: httpx logs every request's full URL at INFO, which would leak the secret.
        try:
            request = urllib.request.Request(str(self.webhook_url), data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout_s):  # noqa: S310 - configured URL
                return "", False
        except urllib.error.HTTPError as exc:  # before URLError: it is one
            return f"HTTP {exc.code}", exc.code >= 500 or exc.code == 429
        except (urllib.error.URLError, OSError) as exc:  # the exception's text may quote the URL
            reason = getattr(exc, "reason", exc)
            return type(reason if isinstance(reason, BaseException) else exc).__name__, True
        except (ValueError, http.client.HTTPException) as exc:  # a malformed URL (its text is the URL),
            return type(exc).__name__, False  # or something that does not speak HTTP: retrying won't help
