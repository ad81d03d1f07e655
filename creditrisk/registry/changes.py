"""Model change control: the only moves of a version between its states.

States (the version tag `state`) and aliases are named in `creditrisk.registry.states`: candidate ->
challenger -> awaiting_approval (under the approval policy) -> champion -> previous -> retired, or
rejected / superseded.

Every move takes the registry lock, re-reads the aliases it depends on and refuses (recording why)
when they moved; before each of its writes it asks the lock whether it is still held (a Postgres
session can end under it) and stops with `LockLost` otherwise; it appends its audit event, naming
the alias changes it makes, *before* making them, so no alias moves unrecorded
(`AuditTrail.verify_aliases` replays the trail against the registry). No version becomes
challenger or champion without passing the validation gate. Once the lock is released, the
`on_decided` hook is told every version a move decided on: the composition root
(`creditrisk.wiring`) hands in the model card's issuer, so each such card is issued anew (a refusal
decides nothing, so it issues none).
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditrisk.registry.audit import AuditTrail
from creditrisk.registry.client import Registry, RegistryError
from creditrisk.registry.locks import Guard
from creditrisk.registry.states import Alias, State
from creditrisk.registry.validation import Validation, validate

MAX_ACTOR_CHARS = 200


class MoveRefused(RegistryError):
    """A move's precondition did not hold under the lock; the refusal is in the audit trail."""


class ValidationFailed(MoveRefused):
    """The version failed the validation gate (`creditrisk.registry.validation`): it may not decide loans."""


@dataclass(frozen=True)
class Move:
    action: str
    version: str
    champion_before: str | None
    reason: str
    actor: str
    event: dict[str, Any]


# What is told of the versions a move decided on, once the lock is released: the registry, their
# numbers and a reader of the trail's events (read only if needed). It must not raise.
DecisionHook = Callable[[Registry, list[str], Callable[[], list[dict[str, Any]]]], object]


class ModelChanges:
    """Moves versions between states for one registered model; each move is locked and audited."""

    def __init__(self, registry: Registry, lock: Callable[[], AbstractContextManager[Guard]],
                 on_decided: DecisionHook | None = None) -> None:
        self.registry = registry
        self._lock = lock
        self._guard: Guard | None = None  # the held lock's check, while it is held
        self._on_decided = on_decided
        self.trail = AuditTrail(registry)
        self._decided: list[str] = []  # versions whose card is due once the lock is released

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The registry lock; afterwards the cards of the versions decided under it are issued."""
        try:
            with self._lock() as guard:
                self._guard = guard
                try:
                    yield
                finally:
                    self._guard = None
        finally:
            self._issue_cards()

    def _held(self) -> None:
        """Raise LockLost unless the lock is still held (called before each write under it)."""
        if self._guard is None:
            raise RegistryError("a registry write outside the registry lock")
        self._guard()

    def _issue_cards(self) -> None:
        """A new card for each decided version, outside the lock (rendering needs no lock)."""
        versions, self._decided = list(dict.fromkeys(self._decided)), []
        if versions and self._on_decided is not None:
            self._on_decided(self.registry, versions,
                             lambda: [self.trail.detail(e) for e in self.trail.events()])

    # -- reading ---------------------------------------------------------------------------------
    def champion(self) -> str | None:
        return self.registry.alias_version(Alias.CHAMPION)

    def challenger(self) -> str | None:
        return self.registry.alias_version(Alias.CHALLENGER)

    def previous(self) -> str | None:
        return self.registry.alias_version(Alias.PREVIOUS)

    def awaiting(self) -> str | None:
        return self.registry.alias_version(Alias.AWAITING)

    def served_versions(self) -> list[str]:
        """Every version that was ever champion (the most recently crowned last), from a verified trail
        (else raises)."""
        problems = self.trail.verify()
        if problems:
            raise RegistryError(f"the audit trail is broken ({problems[0]}); `creditrisk audit` shows it")
        return self.trail.served_versions()

    def validate(self, version: str) -> Validation:
        """The validation gate on the registered artifact (downloaded to a temp folder, then removed)."""
        with tempfile.TemporaryDirectory(prefix="creditrisk-validate-") as tmp:
            try:
                loaded = self.registry.load(version, dst=Path(tmp))
            except RegistryError:
                raise  # the registry could not answer: an error, not a verdict on the version
            except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
                return Validation(version, [f"the artifact does not load: {type(exc).__name__}: {exc}"])
            return validate(version, loaded.model, loaded.files(), self.registry.version(version).tags)

    # -- recording -------------------------------------------------------------------------------
    def _apply(self, action: str, version: str, champion_before: str | None, actor: str, reason: str, *,
               aliases: dict[str, str | None] | None = None, states: dict[str, str] | None = None,
               **fields: Any) -> Move:
        """Append the event, then make the alias and state changes it names (caller holds the lock)."""
        actor = actor[:MAX_ACTOR_CHARS]
        aliases, states = aliases or {}, states or {}
        event = self.trail.append(action, version, actor=actor, reason=reason, champion=champion_before,
                                  aliases=aliases, states=states, guard=self._held, **fields)
        try:
            for alias, target in aliases.items():
                self._held()
                self.registry.set_alias(alias, target) if target else self.registry.delete_alias(alias)
            for v, state in states.items():
                self._held()
                self.registry.set_state(v, state)
            seq = str(event["seq"])
            short = reason if len(reason) <= 1000 else f"{reason[:1000]}... (whole in audit event {seq})"
            self._held()
            self.registry.set_version_tags(version, {f"{action}.actor": actor, f"{action}.at": event["at"],
                                                     f"{action}.reason": short, f"{action}.event": seq})
            if action != "refuse":
                self._decided.append(version)
        except RegistryError as exc:
            self.trail.append("move_failed", version, actor=actor, champion=champion_before,
                              reason=f"{action} was recorded but not completed: {exc}", guard=self._held)
            raise
        return Move(action, version, champion_before, reason, actor, event)

    def _refuse(self, action: str, version: str, actor: str, why: str, error: type[MoveRefused] = MoveRefused,
                **fields: Any) -> None:
        self._apply("refuse", version, self.champion(), actor, why, refused=action, **fields)
        raise error(why)

    def _require_valid(self, action: str, version: str, actor: str) -> Validation:
        """Refuse (and record) `action` when `version` fails the gate; runs before the lock is taken.
        Returns the verdict, whose files' digest every move to @champion records (replicas check it)."""
        check = self.validate(version)
        if not check.passed:
            with self.lock():
                self._refuse(action, version, actor, f"{action} of version {version} refused: it failed "
                             f"validation: {check.summary()}", ValidationFailed, validation=check.problems)
        return check

    def _crowning(self, version: str, old: str | None) -> tuple[dict[str, str | None], dict[str, str]]:
        """Alias and state changes that make `version` champion; the old champion becomes @previous."""
        aliases: dict[str, str | None] = {Alias.CHAMPION: version}
        states = {version: State.CHAMPION}
        if old is not None and old != version:
            older = self.previous()
            if older is not None and older not in (old, version):
                states[older] = State.RETIRED
            aliases[Alias.PREVIOUS], states[old] = old, State.PREVIOUS
        for alias in (Alias.CHALLENGER, Alias.AWAITING):
            if self.registry.alias_version(alias) == version:
                aliases[alias] = None
        return aliases, states

    def _last(self, version: str, action: str) -> dict[str, Any]:
        return next((e for e in reversed(self.trail.events())
                     if e.get("action") == action and e.get("version") == version), {})

    def _four_eyes(self, action: str, version: str, actor: str) -> None:
        """Whoever trained a candidate by hand does not also decide on it."""
        if self._last(version, "candidate").get("actor") == actor:
            self._refuse(action, version, actor, f"{actor} started candidate {version} and cannot also "
                         f"{action} it: another person must decide")

    # -- moves -----------------------------------------------------------------------------------
    def bootstrap(self, version: str, *, actor: str, reason: str, forced: bool) -> Move:
        """A freshly trained first (or forcibly replaced) champion."""
        check = self._require_valid("bootstrap", version, actor)
        with self.lock():
            old = self.champion()
            if old is not None and not forced:
                self._refuse("bootstrap", version, actor,
                             f"{self.registry.model_name}@{Alias.CHAMPION} is already version {old}")
            aliases, states = self._crowning(version, old)
            return self._apply("bootstrap", version, old, actor, reason, aliases=aliases, states=states,
                               forced=forced, artifact_digest=check.digest)

    def register_candidate(self, version: str, *, actor: str, reason: str, **fields: Any) -> Move:
        with self.lock():
            return self._apply("candidate", version, self.champion(), actor, reason,
                               states={version: State.CANDIDATE}, **fields)

    def admit_challenger(self, version: str, *, actor: str, gates: dict[str, Any]) -> Move:
        """A candidate that passed every gate becomes the challenger (an unjudged older one is superseded);
        the validation gate is checked here too, so no caller can skip it."""
        self._require_valid("challenger", version, actor)
        with self.lock():
            older = self.challenger()
            states = {version: State.CHALLENGER}
            if older is not None and older != version:
                states[older] = State.SUPERSEDED
            return self._apply("challenger", version, self.champion(), actor, "passed the candidate gates",
                               aliases={Alias.CHALLENGER: version}, states=states,
                               gates={**gates, "validation": "passed"}, superseded=older)

    def reject_candidate(self, version: str, *, actor: str, reason: str, **evidence: Any) -> Move:
        """A candidate that failed a gate: it never becomes challenger."""
        with self.lock():
            return self._apply("reject", version, self.champion(), actor, reason,
                               states={version: State.REJECTED}, **evidence)

    def _check(self, action: str, version: str, expected_champion: str | None, actor: str,
               alias: str = Alias.CHALLENGER) -> None:
        """Refuse unless the champion is the one `version` was judged against and `alias` still names it."""
        champion, named = self.champion(), self.registry.alias_version(alias)
        if champion != expected_champion or named != version:
            self._refuse(action, version, actor, f"{action} of version {version} refused: the aliases moved "
                         f"since it was evaluated (champion {expected_champion} -> {champion}, "
                         f"@{alias} {version} -> {named})")

    def promote(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
                **evidence: Any) -> Move:
        """The evaluated challenger replaces the champion it was compared with, or nothing moves."""
        check = self._require_valid("promote", version, actor)
        with self.lock():
            self._check("promote", version, expected_champion, actor)
            aliases, states = self._crowning(version, expected_champion)
            return self._apply("promote", version, expected_champion, actor, reason, aliases=aliases,
                               states=states, artifact_digest=check.digest, **evidence)

    def keep(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
             **evidence: Any) -> Move:
        """The challenger lost its evaluation: the champion stays, the challenger is rejected."""
        with self.lock():
            self._check("keep", version, expected_champion, actor)
            return self._apply("keep", version, expected_champion, actor, reason,
                               aliases={Alias.CHALLENGER: None}, states={version: State.REJECTED}, **evidence)

    def await_approval(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
                       **evidence: Any) -> Move:
        """A challenger that won waits for a person (approval policy); it supersedes an older waiting one."""
        with self.lock():
            self._check("await_approval", version, expected_champion, actor)
            older = self.awaiting()
            states = {version: State.AWAITING_APPROVAL}
            if older is not None and older != version:
                states[older] = State.SUPERSEDED
            return self._apply("await_approval", version, expected_champion, actor, reason,
                               aliases={Alias.CHALLENGER: None, Alias.AWAITING: version}, states=states,
                               superseded=older, **evidence)

    def approve(self, version: str, *, actor: str, reason: str) -> Move:
        """A person approves the waiting winner: it replaces the champion it was evaluated against."""
        check = self._require_valid("approve", version, actor)
        with self.lock():
            if self.awaiting() != version:
                self._refuse("approve", version, actor, f"version {version} is not awaiting approval")
            self._four_eyes("approve", version, actor)
            expected = self._last(version, "await_approval").get("champion")
            self._check("approve", version, expected, actor, alias=Alias.AWAITING)
            aliases, states = self._crowning(version, expected)
            return self._apply("approve", version, expected, actor, reason, aliases=aliases, states=states,
                               artifact_digest=check.digest)

    def reject(self, version: str, *, actor: str, reason: str) -> Move:
        """A person rejects the challenger or the waiting winner: it never serves."""
        with self.lock():
            alias = next((a for a in (Alias.AWAITING, Alias.CHALLENGER)
                          if self.registry.alias_version(a) == version), None)
            if alias is None:
                self._refuse("reject", version, actor, f"version {version} is neither the challenger nor "
                             "awaiting approval: nothing to reject")
            self._four_eyes("reject", version, actor)
            return self._apply("reject", version, self.champion(), actor, reason, aliases={alias: None},
                               states={version: State.REJECTED})

    def rollback(self, *, actor: str, reason: str, to: str | None = None, force: bool = False) -> Move:
        """Back to the previous champion (or `to`, a version that served; any version with `force`)."""
        target = to or self.previous()
        if target is None:
            raise RegistryError("no previous champion to roll back to; "
                                "name a version that served with --to N")
        self.registry.version(target)  # raises if it does not exist
        check = self._require_valid("rollback", target, actor)
        with self.lock():
            current = self.champion()
            if current is None or target == current:
                self._refuse("rollback", target, actor, "nothing to roll back: " + (
                    "there is no champion" if current is None else f"version {target} is the champion"))
            if (to or self.previous()) != target:
                self._refuse("rollback", target, actor, f"@{Alias.PREVIOUS} moved while version {target} "
                             "was being validated")
            if target not in self.served_versions() and not force:
                self._refuse("rollback", target, actor, f"version {target} never served; rolling back to it "
                             "needs --force (it would decide loans without having been champion)")
            aliases: dict[str, str | None] = {Alias.CHAMPION: target}
            # One step back, and no alias left with a second meaning on the target.
            for alias in (Alias.PREVIOUS, Alias.CHALLENGER, Alias.AWAITING):
                if self.registry.alias_version(alias) == target:
                    aliases[alias] = None
            return self._apply("rollback", target, current, actor, reason, aliases=aliases,
                               states={target: State.CHAMPION, current: State.RETIRED}, forced=force,
                               artifact_digest=check.digest)
