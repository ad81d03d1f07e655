"""Model change control: the states of a version and the only moves between them.

States, kept as the version tag `state`: `candidate` (registered, gates not yet passed) ->
`challenger` (passed every candidate gate; alias `challenger`) -> `champion` (serving; alias
`champion`) -> `previous` (served until the current champion; alias `previous`, the rollback
target) -> `retired`. A candidate that fails a gate or loses its evaluation is `rejected`.
Each alias has one meaning, and every move happens under the registry lock, re-reads the aliases
it depends on, refuses when they moved (recording why) and appends one event to the audit trail.
No version becomes challenger or champion without passing the validation gate.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditrisk.audit import AuditTrail
from creditrisk.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, PREVIOUS_ALIAS
from creditrisk.registry import Registry, RegistryError
from creditrisk.validation import Validation, validate

MADE_CHAMPION = ("bootstrap", "promote", "approve", "rollback")  # events after which `version` served


class MoveRefused(RegistryError):
    """A move's precondition no longer held under the lock (another move came first)."""


class ValidationFailed(MoveRefused):
    """The version failed the validation gate (`creditrisk.validation`): it may not decide loans."""


@dataclass(frozen=True)
class Move:
    action: str
    version: str
    champion_before: str | None
    reason: str
    actor: str
    event: dict[str, Any]


class ModelChanges:
    """Moves versions between states for one registered model; each move is locked and audited."""

    def __init__(self, registry: Registry, lock: Callable[[], AbstractContextManager[None]]) -> None:
        self.registry = registry
        self.lock = lock
        self.trail = AuditTrail(registry)

    # -- reading ---------------------------------------------------------------------------------
    def champion(self) -> str | None:
        return self.registry.alias_version(CHAMPION_ALIAS)

    def challenger(self) -> str | None:
        return self.registry.alias_version(CHALLENGER_ALIAS)

    def previous(self) -> str | None:
        return self.registry.alias_version(PREVIOUS_ALIAS)

    def served_versions(self) -> list[str]:
        """Every version that was ever champion, oldest first (from the audit trail)."""
        seen: list[str] = []
        for e in self.trail.events():
            if e.get("action") in MADE_CHAMPION and e.get("version") not in seen:
                seen.append(str(e["version"]))
        return seen

    def validate(self, version: str) -> Validation:
        """The validation gate on the registered artifact (downloaded to a temp folder, then removed)."""
        with tempfile.TemporaryDirectory(prefix="creditrisk-validate-") as tmp:
            try:
                loaded = self.registry.load(version, dst=Path(tmp))
            except RegistryError:
                raise  # the registry could not answer: an error, not a verdict on the version
            except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
                return Validation(version, [f"the artifact does not load: {type(exc).__name__}: {exc}"])
            return validate(version, loaded.model, loaded.folder)

    def _require_valid(self, action: str, version: str, actor: str) -> Validation:
        """Refuse (and record) `action` when `version` fails the gate; runs before the lock is taken."""
        check = self.validate(version)
        if not check.passed:
            why = f"{action} of version {version} refused: it failed validation: {check.summary()}"
            with self.lock():
                self._record("refuse", version, self.champion(), actor, why, refused=action,
                             validation=check.problems)
            raise ValidationFailed(why)
        return check

    # -- moves -----------------------------------------------------------------------------------
    def _record(self, action: str, version: str, champion_before: str | None, actor: str, reason: str,
                **fields: Any) -> Move:
        event = self.trail.append(action, version, actor=actor, reason=reason, champion=champion_before,
                                  **fields)
        # A convenience on the version page; the audit event is the record and holds the reason whole.
        short = reason if len(reason) <= 1000 else f"{reason[:1000]}... (whole in audit event {event['seq']})"
        self.registry.set_version_tags(version, {f"{action}.actor": actor, f"{action}.at": event["at"],
                                                 f"{action}.reason": short,
                                                 f"{action}.event": str(event["seq"])})
        return Move(action, version, champion_before, reason, actor, event)

    def _crown(self, version: str, old: str | None) -> None:
        """`version` becomes champion; the old champion becomes the rollback target."""
        self.registry.set_alias(CHAMPION_ALIAS, version)
        self.registry.set_state(version, "champion")
        if old is not None and old != version:
            self.registry.set_alias(PREVIOUS_ALIAS, old)
            self.registry.set_state(old, "previous")
        if self.challenger() == version:
            self.registry.delete_alias(CHALLENGER_ALIAS)

    def bootstrap(self, version: str, *, actor: str, reason: str, forced: bool) -> Move:
        """A freshly trained first (or forcibly replaced) champion."""
        self._require_valid("bootstrap", version, actor)
        with self.lock():
            old = self.champion()
            if old is not None and not forced:
                raise MoveRefused(f"{self.registry.model_name}@{CHAMPION_ALIAS} is already version {old}")
            self._crown(version, old)
            return self._record("bootstrap", version, old, actor, reason, forced=forced)

    def register_candidate(self, version: str, *, actor: str, reason: str, **fields: Any) -> Move:
        with self.lock():
            self.registry.set_state(version, "candidate")
            return self._record("candidate", version, self.champion(), actor, reason, **fields)

    def admit_challenger(self, version: str, *, actor: str, gates: dict[str, Any]) -> Move:
        """A candidate that passed every gate becomes the challenger (replacing an older one); the
        validation gate is checked here too, so no caller can skip it."""
        self._require_valid("challenger", version, actor)
        with self.lock():
            older = self.challenger()
            if older is not None and older != version:
                if self.registry.version(older).tags.get("state") == "awaiting_approval":
                    self._record("supersede", older, self.champion(), actor,
                                 f"superseded by version {version} before anyone approved it")
                self.registry.set_state(older, "retired")
            self.registry.set_alias(CHALLENGER_ALIAS, version)
            self.registry.set_state(version, "challenger")
            return self._record("challenger", version, self.champion(), actor,
                                "passed the candidate gates", gates={**gates, "validation": "passed"},
                                superseded=older)

    def reject(self, version: str, *, actor: str, reason: str, **evidence: Any) -> Move:
        """A candidate that failed a gate, or a challenger a person rejected: it never serves."""
        with self.lock():
            if self.challenger() == version:
                self._refuse_self_approval("reject", version, actor)
                self.registry.delete_alias(CHALLENGER_ALIAS)
            self.registry.set_state(version, "rejected")
            return self._record("reject", version, self.champion(), actor, reason, **evidence)

    def await_approval(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
                       **evidence: Any) -> Move:
        """A challenger that won its evaluation waits for a person (CREDITRISK_PROMOTION=approval)."""
        with self.lock():
            self._check("await_approval", version, expected_champion, actor)
            self.registry.set_state(version, "awaiting_approval")
            return self._record("await_approval", version, expected_champion, actor, reason, **evidence)

    def approve(self, version: str, *, actor: str, reason: str) -> Move:
        """A person approves the waiting challenger: it replaces the champion it was evaluated against."""
        self._require_valid("approve", version, actor)
        with self.lock():
            state = self.registry.version(version).tags.get("state")
            if self.challenger() != version or state != "awaiting_approval":
                raise MoveRefused(f"version {version} is not awaiting approval (its state is {state})")
            self._refuse_self_approval("approve", version, actor)
            expected = self._last(version, "await_approval").get("champion")
            self._check("approve", version, expected, actor)
            self._crown(version, expected)
            return self._record("approve", version, expected, actor, reason)

    def _last(self, version: str, action: str) -> dict[str, Any]:
        return next((e for e in reversed(self.trail.events())
                     if e.get("action") == action and e.get("version") == version), {})

    def _refuse_self_approval(self, action: str, version: str, actor: str) -> None:
        """Four eyes: whoever trained a candidate by hand does not also decide on it."""
        if self._last(version, "candidate").get("actor") == actor:
            raise MoveRefused(f"{actor} started candidate {version} and cannot also {action} it: "
                              "another person must decide")

    def _check(self, action: str, version: str, expected_champion: str | None, actor: str) -> None:
        champion, challenger = self.champion(), self.challenger()
        if champion == expected_champion and challenger == version:
            return
        why = (f"{action} of version {version} refused: the aliases moved since it was evaluated "
               f"(champion {expected_champion} -> {champion}, challenger {version} -> {challenger})")
        self._record("refuse", version, champion, actor, why, refused=action)
        raise MoveRefused(why)

    def promote(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
                **evidence: Any) -> Move:
        """The evaluated challenger replaces the champion it was compared with, or nothing moves."""
        self._require_valid("promote", version, actor)
        with self.lock():
            self._check("promote", version, expected_champion, actor)
            self._crown(version, expected_champion)
            return self._record("promote", version, expected_champion, actor, reason, **evidence)

    def keep(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
             **evidence: Any) -> Move:
        """The challenger lost its evaluation: the champion stays, the challenger is rejected."""
        with self.lock():
            self._check("keep", version, expected_champion, actor)
            self.registry.delete_alias(CHALLENGER_ALIAS)
            self.registry.set_state(version, "rejected")
            return self._record("keep", version, expected_champion, actor, reason, **evidence)

    def rollback(self, *, actor: str, reason: str, to: str | None = None, force: bool = False) -> Move:
        """Back to the previous champion (or `to`, a version that served; any version with `force`)."""
        target = to or self.previous()
        if target is not None:
            self._require_valid("rollback", target, actor)
        with self.lock():
            current = self.champion()
            if (to or self.previous()) != target:
                raise MoveRefused(f"rollback refused: @{PREVIOUS_ALIAS} moved while version {target} "
                                  "was being validated")
            if current is None:
                raise RegistryError("nothing to roll back: there is no champion")
            if target is None:
                raise RegistryError("no previous champion to roll back to; "
                                    "name a version that served with --to N")
            self.registry.version(target)  # raises if it does not exist
            if target not in self.served_versions() and not force:
                raise RegistryError(f"version {target} never served; rolling back to it needs --force "
                                    "(it would decide loans without having been champion)")
            if target == current:
                raise RegistryError(f"version {target} is already the champion")
            self.registry.set_alias(CHAMPION_ALIAS, target)
            self.registry.set_state(target, "champion")
            self.registry.set_state(current, "retired")
            if self.previous() == target:
                self.registry.delete_alias(PREVIOUS_ALIAS)  # one step back; further steps name --to
            return self._record("rollback", target, current, actor, reason, forced=force)
