"""The audit trail of model changes: hash-chained events on the registered model, verifiable.

Every move and decision is one event: a JSON object stored whole as the registered model's tag
`audit.<seq>` (zero-padded, so tags sort in order). Each event carries `prev`, the SHA-256 of the
event before it, and its own `hash`; the tag `audit.head` holds the last sequence number and hash,
and each version's tags name the events about it (`<action>.event`). `verify()` therefore detects
an edited event (its hash), a deleted one (a gap or a broken link), a removed tail (the head, the
version tags) and an edited long event (its stored document's digest); `verify_aliases()` replays
the alias changes the events name and compares them with the registry, so an alias moved outside
change control shows. Anyone who can write tags can still rewrite everything consistently: the
trail is tamper-evident, not tamper-proof (production keeps the tracking database's own logs).

An event must fit MLflow's tag limit (5,000 characters on SQL backends; SQLite does not enforce
it, Postgres does). Longer text is never cut: the whole event goes to a JSON artifact of the
version's run and the tag keeps its digest, its URI and a short head of the reason. Appends
happen under the registry lock (`creditrisk.registry.locks`); an append refuses when the head and the
stored events disagree (fail closed), so a damaged trail is never silently continued.

MLflow has no compare-and-set: a tag write replaces. An append re-reads the tags just before it
writes and refuses when its `audit.<seq>` exists (another writer got there: the lock was not
exclusive). Two writers that both read before either wrote still both write, and MLflow keeps the
last event; so each append also writes a witness, `audit-witness.<seq>.<hash>`, a key no other event
shares, after its event. `verify()` reports a fork wherever a witness names a hash that is not the
stored event's: the replaced event left its witness behind.

Every event that moves `@champion` (`MADE_CHAMPION`) records the SHA-256 of the artifact files the
validation gate checked (`artifact_digest`, kept in the tag even when the event is long).
`audited_champion()` returns the version and digest the latest of them names, from a verified trail
only: the serving replicas serve nothing else, so `@champion` moved by a bare registry call is not
served. The chain has no key: a writer who rewrites it consistently can name any version and digest.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from creditrisk.registry.client import Registry, RegistryError
from creditrisk.registry.states import Alias

# MLflow's tag limit on SQL backends (SQLite does not enforce it, Postgres does): an audit event fits
MAX_TAG_CHARS = 5000

PREFIX, HEAD = "audit.", "audit.head"
WITNESS = "audit-witness."  # + "<seq>.<first 16 hex of the hash>": one per event written, never replaced
GENESIS = "0" * 64
# Kept in the tag when the rest goes to a document: what replicas and `verify_aliases` act on.
_CORE = ("seq", "at", "action", "version", "champion", "actor", "aliases", "states", "artifact_digest")
ALIASES = tuple(Alias)
MADE_CHAMPION = ("bootstrap", "promote", "approve", "rollback")  # events after which `version` served


def _plain(value: Any) -> Any:
    """JSON without NaN or infinities (other tools reject them): such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(_plain(event), sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _event_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: tags[k] for k in sorted(t for t in tags if t.startswith(PREFIX) and t != HEAD)}


def _parse(text: str) -> dict[str, Any] | None:
    try:
        event = json.loads(text)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("seq"), int) else None


class NoAuditedChampion(RegistryError):
    """The audit trail names no champion: no event moved `@champion` yet (see `TrailBroken` too)."""


class TrailBroken(NoAuditedChampion):
    """The audit trail does not verify, so nothing it says is trusted."""


@dataclass(frozen=True)
class Crowned:
    """A version as the latest verified event that made it champion names it."""

    version: str
    digest: str | None  # its files' `artifact_digest`; None in events recorded before digests were
    seq: int
    action: str


def _forks(tags: dict[str, str]) -> list[str]:
    """Events written twice: a witness whose hash is not the stored event's (the replaced one's)."""
    problems = []
    for key in sorted(t for t in tags if t.startswith(WITNESS)):
        seq, written = key[len(WITNESS):].split(".")[0], tags[key]
        stored = _parse(tags.get(f"{PREFIX}{seq}", ""))
        if stored is not None and stored.get("hash") != written:
            problems.append(f"{PREFIX}{seq}: written twice (a fork: event {written[:12]} was replaced by "
                            f"{str(stored.get('hash'))[:12]}; the registry lock was not held)")
    return problems


class AuditTrail:
    """Reads, appends and verifies the hash-chained events of one registered model."""

    def __init__(self, registry: Registry, *, remember_documents: bool = False) -> None:
        self.registry = registry
        # A reader that verifies at every check (a replica) reads each long event's document once: it
        # acts only on the fields kept in the tag; `creditrisk audit` re-reads them every time.
        self._remember = remember_documents
        self._documents_ok: set[str] = set()

    def events(self) -> list[dict[str, Any]]:
        """The events in order (a tag that is not an event is skipped here; `verify()` reports it)."""
        return [e for e in map(_parse, _event_tags(self.registry.model_tags()).values()) if e is not None]

    def audited_champion(self) -> Crowned:
        """The version and digest named by the latest event that moved `@champion`, from a verified
        trail (raises `TrailBroken`, or `NoAuditedChampion` when no event crowned any version)."""
        crowned = self._crowned()
        if not crowned:
            raise NoAuditedChampion(f"the audit trail of {self.registry.model_name} has no event that "
                                    "made a version champion")
        return crowned[-1]

    def verified_served(self) -> list[Crowned]:
        """Every version a verified trail shows served, as its latest crowning names it, the most
        recently crowned last (raises `TrailBroken`)."""
        latest: dict[str, Crowned] = {}
        for c in self._crowned():
            latest.pop(c.version, None)
            latest[c.version] = c
        return list(latest.values())

    def _crowned(self) -> list[Crowned]:
        """The crowning events, in order, read from the same tags that were verified."""
        tags = self.registry.model_tags()
        problems = self._problems(tags)
        if problems:
            raise TrailBroken(f"the audit trail is broken ({problems[0]}); `creditrisk audit` shows it")
        events = [e for e in map(_parse, _event_tags(tags).values()) if e is not None]
        return [Crowned(str(e["version"]), e.get("artifact_digest"), e["seq"], e["action"])
                for e in events if e.get("action") in MADE_CHAMPION]

    def served_versions(self) -> list[str]:
        """Every version the events say was champion, the most recently crowned last (unverified: see
        `verify`)."""
        order: dict[str, None] = {}
        for e in self.events():
            if e.get("action") in MADE_CHAMPION:
                order.pop(str(e["version"]), None)
                order[str(e["version"])] = None
        return list(order)

    def detail(self, event: dict[str, Any]) -> dict[str, Any]:
        """The whole event: itself, or the stored document its tag points to (digest checked)."""
        if "detail_uri" not in event:
            return event
        text = self.registry.read_text(event["detail_uri"])
        if digest(text) != event.get("detail_sha256"):
            raise RegistryError(f"audit event {event['seq']}: {event['detail_uri']} does not match "
                                "its digest")
        return dict(json.loads(text))

    def append(self, action: str, version: str, *, actor: str, reason: str,
               guard: Callable[[], None] = lambda: None, **fields: Any) -> dict[str, Any]:
        """Record one event after the last; returns it as stored (with seq, prev and hash). `guard` is
        called before each write (the registry lock's check that it is still held)."""
        tags = self.registry.model_tags()
        stored = [e for e in map(_parse, _event_tags(tags).values()) if e is not None]
        head = _parse(tags[HEAD]) if HEAD in tags else None
        last = stored[-1] if stored else None
        if (head is None) != (last is None) or (head and last and (head["seq"], head.get("hash")) !=
                                                (last["seq"], last.get("hash"))):
            raise RegistryError("the audit trail's head and its events disagree: no event is appended until "
                                "`creditrisk audit` has been reviewed and the trail repaired")
        prev = last["hash"] if last else GENESIS
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        event: dict[str, Any] = {"seq": last["seq"] + 1 if last else 0, "action": action,
                                 "version": str(version), "at": now, "actor": actor, "reason": reason,
                                 **fields, "prev": prev}
        if len(canonical(event)) > MAX_TAG_CHARS - 600:  # room for the hash, the digest and the URI
            name = f"audit/event-{event['seq']:06d}.json"
            guard()
            uri = self.registry.store_text(str(version), name, canonical(event))
            event = {**{k: event[k] for k in _CORE if k in event}, "reason_head": reason[:300],
                     "detail_uri": uri, "detail_sha256": digest(canonical(event)), "prev": prev}
        event["hash"] = digest(canonical(event))
        text = canonical(event)
        if len(text) > MAX_TAG_CHARS:
            raise RegistryError(f"audit event {event['seq']} is {len(text)} characters, over the tag limit")
        key = f"{PREFIX}{event['seq']:06d}"
        guard()
        if key in self.registry.model_tags():  # written since our read: never replace an event
            raise RegistryError(f"{key} already exists: another writer appended while this one held the "
                                "registry lock (it was not exclusive); nothing was appended")
        self.registry.set_model_tag(key, text)
        guard()
        self.registry.set_model_tag(f"{WITNESS}{event['seq']:06d}.{event['hash'][:16]}", event["hash"])
        self.registry.set_model_tag(HEAD, canonical({"seq": event["seq"], "hash": event["hash"]}))
        return event

    def verify(self) -> list[str]:
        """Problems found in the chain; an empty list means it is whole."""
        return self._problems(self.registry.model_tags())

    def _problems(self, tags: dict[str, str]) -> list[str]:
        """`verify()` on a given read of the registered model's tags."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 0
        for key, text in _event_tags(tags).items():
            event = _parse(text)
            if event is None:
                problems.append(f"{key}: not an audit event (not a JSON object with a sequence number)")
                continue
            body = {k: v for k, v in event.items() if k != "hash"}
            if event["seq"] != expected_seq:
                problems.append(f"{key}: sequence {event['seq']} where {expected_seq} was expected "
                                "(an event is missing)")
            if digest(canonical(body)) != event.get("hash"):
                problems.append(f"{key}: its content does not match its hash (edited)")
            if event.get("prev") != prev:
                problems.append(f"{key}: does not follow the event before it (deleted or reordered)")
            if "detail_uri" in event and event.get("detail_sha256") not in self._documents_ok:
                try:
                    self.detail(event)
                except (RegistryError, ValueError) as exc:
                    problems.append(f"{key}: its stored document is missing or altered ({exc})")
                else:
                    if self._remember:
                        self._documents_ok.add(str(event.get("detail_sha256")))
            prev, expected_seq = str(event.get("hash", "")), event["seq"] + 1
        problems += _forks(tags)
        head = _parse(tags[HEAD]) if HEAD in tags else None
        if head is not None and (head["seq"] != expected_seq - 1 or head.get("hash") != prev):
            problems.append(f"{HEAD}: names event {head['seq']}, the trail ends at {expected_seq - 1} "
                            "(events removed from the end)")
        if head is None and expected_seq:
            problems.append(f"{HEAD} is missing")
        referenced = self.registry.max_event_referenced()
        if referenced is not None and referenced > expected_seq - 1:
            problems.append(f"version tags name event {referenced}, the trail ends at {expected_seq - 1} "
                            "(events removed)")
        return problems

    def verify_aliases(self) -> list[str]:
        """Aliases that differ from what the trail's events say they should be (moved outside it)."""
        expected: dict[str, str | None] = dict.fromkeys(ALIASES)
        for event in self.events():
            for alias, version in (event.get("aliases") or {}).items():
                expected[alias] = version
        problems = []
        for alias in ALIASES:
            actual = self.registry.alias_version(alias)
            if actual != expected[alias]:
                problems.append(f"@{alias} is {actual}, but the audit trail says {expected[alias]} "
                                "(moved outside change control)")
        return problems
