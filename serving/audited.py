"""What a replica may serve: the version change control crowned last, with the files it crowned.

`@champion` is a pointer that anyone with write access to the registry can move with one call. A
replica following it therefore swaps to a version only when the latest event of the verified audit
trail that moved `@champion` names that version (`AuditTrail.audited_champion`), and only if the
files it downloaded have the digest that event recorded (checked by `serving.loading`). An alias
that names another version (a stray) is not followed: the replica keeps its model, its `/readyz`
model section says `degraded` naming both versions, and one alert goes out. A trail that does not
verify names nothing: a running replica keeps its model the same way; a starting one refuses to
start (Serve retries it), since it has nothing it may serve.

A problem is reported once it is seen on two checks in a row: change control appends its event a
moment before it moves the alias (and writes the trail's head after the event), so a single look
can fall between the two. One alert per problem; a healthy check ends the problem.

Not checked (an operator's explicit choice, made with deployment rights that registry writers do
not hold): a `pinned_version`, and an alias other than `@champion`. Both still pass the validation
gate. The trail has no key, so an event forged by a registry writer who rewrites the chain is
accepted; signing the events that move `@champion` is the next step (README, "What a replica
serves").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditrisk.registry.audit import AuditTrail, Crowned
from creditrisk.registry.client import Registry
from creditrisk.registry.states import Alias
from serving.config import PredictorConfig
from serving.health import PartHealth
from serving.loading import ModelState

ALERT_TITLE = "a serving replica does not follow @champion"


@dataclass(frozen=True)
class Verdict:
    """What one look at the alias and the verified trail allows: the version to serve and its digest."""

    version: str  # the audited champion (or the pin / other alias, unchecked)
    digest: str | None  # the digest its files must have; None: not checked
    stray: str | None = None  # the alias's version when change control did not put it there
    note: str | None = None  # why serving `version` is degraded all the same

    def served_by(self, state: ModelState | None) -> bool:
        """Whether `state` is this version with these files."""
        if state is None or state.loaded.version != self.version:
            return False
        return self.digest is None or state.digest == self.digest


class AuditGate:
    """The audited champion for one replica, and its audit problems (confirmed, alerted once)."""

    def __init__(self) -> None:
        self._trail: AuditTrail | None = None
        self._seen: str | None = None  # the problem the last check saw
        self._alerted: str | None = None  # the problem last alerted on
        self.audited: str | None = None
        self.stray: str | None = None

    def trail(self, registry: Registry) -> AuditTrail:
        """The trail of `registry` (one reader per registry: it remembers the documents it verified)."""
        if self._trail is None or self._trail.registry is not registry:
            self._trail = AuditTrail(registry, remember_documents=True)
        return self._trail

    def verdict(self, registry: Registry, version: str, config: PredictorConfig) -> Verdict:
        """What may be served while the alias or pin of `config` names `version` (raises
        `NoAuditedChampion` when the trail names nothing); a pin or another alias is not checked."""
        if config.pinned_version or config.alias != Alias.CHAMPION:
            self.audited = None  # not looked at: /readyz must not suggest it was
            return Verdict(version, None)
        crowned = self.trail(registry).audited_champion()
        self.audited = crowned.version
        if version != crowned.version:
            return Verdict(crowned.version, crowned.digest, stray=version)
        note = None if crowned.digest else (
            f"audit event {crowned.seq} that crowned version {crowned.version} records no artifact digest "
            "(it predates digests): its version is checked, its files are not")
        return Verdict(crowned.version, crowned.digest, note=note)

    def fallbacks(self, registry: Registry, broken: str) -> list[Crowned]:
        """Versions the verified trail shows served, newest first, without `broken`."""
        return [c for c in reversed(self.trail(registry).verified_served()) if c.version != broken]

    def followed(self, verdict: Verdict, health: PartHealth) -> None:
        """The replica serves what the verdict names: any problem is over (`health` ok, or its note)."""
        self._seen = self._alerted = self.stray = None
        health.set("degraded" if verdict.note else "ok", verdict.note)

    def stray_at_start(self, verdict: Verdict, health: PartHealth) -> None:
        """A replica starting on a stray alias says so at once; the next check confirms it and alerts."""
        self._seen, self.stray = _stray_key(verdict), verdict.stray
        health.set("degraded", _stray_message(verdict, verdict.version))

    def problem(self, verdict: Verdict | None, trail_error: str | None, health: PartHealth,
                serving: str | None) -> dict[str, Any] | None:
        """A stray alias (`verdict`) or a trail naming nothing (`trail_error`): the model is kept; once a
        second check confirms it, `health` says degraded; returns the alert's details when one is due."""
        key = _stray_key(verdict) if verdict is not None else "trail"
        message = _stray_message(verdict, serving) if verdict is not None else \
            f"{trail_error}; keeping version {serving}"
        confirmed, self._seen = self._seen == key, key
        if not confirmed:
            return None
        self.stray = verdict.stray if verdict is not None else None
        health.set("degraded", message)
        due, self._alerted = self._alerted != key, key
        return {"detail": message, "stray_version": self.stray, "audited_version": self.audited,
                "serving_version": serving} if due else None

    def details(self) -> dict[str, Any]:
        """The `/readyz` model section's audit fields."""
        return {"audited_version": self.audited, "stray_version": self.stray}


def _stray_key(verdict: Verdict) -> str:
    return f"@champion {verdict.stray}, audited {verdict.version}"


def _stray_message(verdict: Verdict, serving: str | None) -> str:
    return (f"@champion names version {verdict.stray}, which no verified change-control event put there "
            f"(moved outside change control); the audited champion is version {verdict.version}; "
            f"serving version {serving}")
