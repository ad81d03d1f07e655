"""Readiness of one replica: the shape `/readyz` returns, which every part of the service extends.

`/readyz` has one overall `status` and one section per part (`model`, `registry`, `request_log`,
`store`). Each section is a `PartHealth` (its `state`, `since` when it is in that state, and the
last error with its time) plus the part's own details. The rule for the overall status lives
only here: `unready` (HTTP 503) when a part the service cannot answer without is `down` (the
model, or a request log that refuses to record), `degraded` when any part is not `ok` (the
service still answers), else `ready`.

Anyone who reaches the port may read `/readyz`, so its public form (`public`) has only each part's
`state` and `since` and the version served (which every /predict answer names anyway); the errors,
paths, run ids and counters need the outcomes token, since an error can quote an internal address.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

PartState = Literal["ok", "degraded", "down"]
Status = Literal["ready", "degraded", "unready"]
PARTS = ("model", "registry", "request_log", "store")
# Without these the replica cannot answer /predict: no model, or a request log that cannot record
# the decision (a decision that is not logged is not made).
REQUIRED_PARTS = ("model", "request_log")
# What `/readyz` tells a caller without the token, per part ("" for every other part).
PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {"": ("state", "since"), "model": ("state", "since", "version")}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class PartHealth:
    """State of one part, since when it has been in that state, and its last error (kept after recovery)."""

    state: PartState
    since: str = field(default_factory=now_iso)
    last_error: str | None = None
    last_error_at: str | None = None

    def set(self, state: PartState, error: BaseException | str | None = None) -> None:
        """Move to `state` (`since` changes only on a change); record `error` if given."""
        if state != self.state:
            self.state, self.since = state, now_iso()
        if error is not None:
            text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            self.last_error, self.last_error_at = text[:300], now_iso()

    def section(self, **details: Any) -> dict[str, Any]:
        """This part's `/readyz` section: its state fields, then the part's own details."""
        return {"state": self.state, "since": self.since, "last_error": self.last_error,
                "last_error_at": self.last_error_at, **details}


def public(body: Mapping[str, Any]) -> dict[str, Any]:
    """The `/readyz` body without details: the status, and each part's state and since."""
    out: dict[str, Any] = {k: body[k] for k in ("status", "replica", "started_at") if k in body}
    for part in (p for p in PARTS if p in body):
        shown = PUBLIC_FIELDS.get(part, PUBLIC_FIELDS[""])
        out[part] = {k: v for k, v in body[part].items() if k in shown}
    return out


def overall(sections: Mapping[str, Mapping[str, Any]]) -> Status:
    """The replica's status from its parts' states (see the module docstring)."""
    if any(sections.get(p, {}).get("state") == "down" for p in REQUIRED_PARTS):
        return "unready"
    return "degraded" if any(s["state"] != "ok" for s in sections.values()) else "ready"
