"""The audit trail of model changes: hash-chained events on the registered model, verifiable.

Every alias move and every decision is one event: a JSON object stored whole as the registered
model's tag `audit.<seq>` (zero-padded, so tags sort in order). Each event carries `prev`, the
SHA-256 of the event before it, and its own `hash`; the tag `audit.head` holds the last sequence
number and hash. `verify()` therefore detects an edited event (its hash), a deleted one (a gap or a
broken link) and a removed tail (the head). Anyone who can write tags can still rewrite the whole
chain: the trail is tamper-evident, not tamper-proof (production keeps MLflow's own database
logs and backups as the second record).

An event must fit MLflow's tag limit (5,000 characters on SQL backends; SQLite does not enforce
it, Postgres does). Longer text is never cut: the whole event goes to a JSON artifact of the
version's run and the tag keeps its digest, its URI and a short head of the reason.
Appends happen under the registry lock (`creditrisk.locks`), so sequence numbers never collide.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from creditrisk.constants import MAX_TAG_CHARS
from creditrisk.registry import Registry

PREFIX, HEAD = "audit.", "audit.head"
GENESIS = "0" * 64
_CORE = ("seq", "at", "action", "version", "champion", "actor")  # always kept in the tag itself


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AuditTrail:
    """Reads, appends and verifies the hash-chained events of one registered model."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _tags(self) -> dict[str, str]:
        return self.registry.model_tags()

    def events(self) -> list[dict[str, Any]]:
        """The events in order (a tag that is not JSON is skipped here; `verify()` reports it)."""
        out = []
        for text in _event_tags(self._tags()).values():
            try:
                out.append(json.loads(text))
            except ValueError:
                continue
        return out

    def detail(self, event: dict[str, Any]) -> dict[str, Any]:
        """The whole event: itself, or the stored document its tag points to (digest checked)."""
        if "detail_uri" not in event:
            return event
        text = self.registry.read_text(event["detail_uri"])
        if digest(text) != event["detail_sha256"]:
            raise ValueError(f"audit event {event['seq']}: {event['detail_uri']} does not match its digest")
        return dict(json.loads(text))

    def append(self, action: str, version: str, *, actor: str, reason: str, **fields: Any) -> dict[str, Any]:
        """Record one event after the last; returns it as stored (with seq, prev and hash)."""
        head = json.loads(self._tags().get(HEAD, "null")) or {"seq": -1, "hash": GENESIS}
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        event: dict[str, Any] = {"seq": head["seq"] + 1, "at": now, "action": action, "version": str(version),
                                 "actor": actor, "reason": reason, **fields, "prev": head["hash"]}
        if len(canonical(event)) > MAX_TAG_CHARS - 200:  # room for the hash and the JSON around it
            name = f"audit/event-{event['seq']:06d}.json"
            uri = self.registry.store_text(str(version), name, canonical(event))
            event = {**{k: event[k] for k in _CORE if k in event}, "reason_head": reason[:300],
                     "detail_uri": uri, "detail_sha256": digest(canonical(event)), "prev": head["hash"]}
        event["hash"] = digest(canonical(event))
        text = canonical(event)
        self.registry.set_model_tag(f"{PREFIX}{event['seq']:06d}", text)
        self.registry.set_model_tag(HEAD, canonical({"seq": event["seq"], "hash": event["hash"]}))
        return event

    def verify(self) -> list[str]:
        """Problems found in the chain; an empty list means it is whole."""
        tags = self._tags()
        problems: list[str] = []
        prev, expected_seq = GENESIS, 0
        for key, text in _event_tags(tags).items():
            try:
                event = json.loads(text)
            except ValueError:
                problems.append(f"{key}: not valid JSON")
                continue
            body = {k: v for k, v in event.items() if k != "hash"}
            if event.get("seq") != expected_seq:
                problems.append(f"{key}: sequence {event.get('seq')} where {expected_seq} was expected "
                                "(an event is missing)")
            if digest(canonical(body)) != event.get("hash"):
                problems.append(f"{key}: its content does not match its hash (edited)")
            if event.get("prev") != prev:
                problems.append(f"{key}: does not follow the event before it (deleted or reordered)")
            prev, expected_seq = event.get("hash", ""), (event.get("seq") or 0) + 1
        head = json.loads(tags[HEAD]) if HEAD in tags else None
        if head is not None and (head.get("seq") != expected_seq - 1 or head.get("hash") != prev):
            problems.append(f"{HEAD}: names event {head.get('seq')}, the trail ends at {expected_seq - 1} "
                            "(events removed from the end)")
        if head is None and expected_seq:
            problems.append(f"{HEAD} is missing")
        return problems


def _event_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: tags[k] for k in sorted(t for t in tags if t.startswith(PREFIX) and t != HEAD)}
