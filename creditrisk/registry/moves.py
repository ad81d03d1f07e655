"""The machinery under change control's moves: the lock, the reads, the recording, the shared checks.

`ModelChanges` (`creditrisk.registry.changes`) is the only subclass: it holds the moves themselves.
Before each write under the lock this asks the lock whether it is still held (a Postgres session
can end under it) and stops with `LockLost` otherwise; it appends the audit event, naming the alias
changes, *before* making them, so no alias moves unrecorded. Once the lock is released, the
`on_decided` hook is told every version a move decided on (the composition root hands in the model
card's issuer; a refusal decides nothing, so it issues none).
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
from creditrisk.registry.policy import ChangePolicy
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


class Moves:
    """Locked, audited recording of moves on one registered model, judged by the deployment's `policy`."""

    def __init__(self, registry: Registry, lock: Callable[[], AbstractContextManager[Guard]],
                 policy: ChangePolicy | None = None, on_decided: DecisionHook | None = None) -> None:
        self.registry = registry
        self.policy = policy or ChangePolicy()
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
            if version:  # a refused launch names no version
                self.registry.set_version_tags(version, {
                    f"{action}.actor": actor, f"{action}.at": event["at"], f"{action}.reason": short,
                    f"{action}.event": seq})
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
        """Whoever trained a candidate by hand, or requested a forced move, does not also decide on it."""
        if self._last(version, "candidate").get("actor") == actor:
            self._refuse(action, version, actor, f"{actor} started candidate {version} and cannot also "
                         f"{action} it: another person must decide")
        waiting = self._last(version, "await_approval")
        if waiting.get("request") and waiting.get("actor") == actor:
            self._refuse(action, version, actor, f"{actor} requested the {waiting['request']} of version "
                         f"{version} and cannot also {action} it: another person must decide")

    def _check(self, action: str, version: str, expected_champion: str | None, actor: str,
               alias: str = Alias.CHALLENGER) -> None:
        """Refuse unless the champion is the one `version` was judged against and `alias` still names it."""
        champion, named = self.champion(), self.registry.alias_version(alias)
        if champion != expected_champion or named != version:
            self._refuse(action, version, actor, f"{action} of version {version} refused: the aliases moved "
                         f"since it was evaluated (champion {expected_champion} -> {champion}, "
                         f"@{alias} {version} -> {named})")

    def _judge(self, action: str, version: str, expected_champion: str | None, actor: str,
               evidence: dict[str, Any] | None) -> None:
        """Refuse unless the evaluation's figures clear the policy's evidence rule (a first model,
        with no champion to compare with and none that ever served, needs none)."""
        if expected_champion is None and not self.served_versions():
            return
        problems = self.policy.evidence.problems(evidence or {})
        if problems:
            self._refuse(action, version, actor, f"{action} of version {version} refused: its evidence does "
                         f"not clear this deployment's evidence rule ({'; '.join(problems)})",
                         policy=self.policy.as_dict())

    def _wait(self, version: str, champion: str | None, actor: str, reason: str,
              aliases: dict[str, str | None], **fields: Any) -> Move:
        """`version` into @awaiting (an older waiting one is superseded); the caller holds the lock."""
        older = self.awaiting()
        states = {version: State.AWAITING_APPROVAL}
        if older is not None and older != version:
            states[older] = State.SUPERSEDED
        return self._apply("await_approval", version, champion, actor, reason,
                           aliases={**aliases, Alias.AWAITING: version}, states=states, superseded=older,
                           **fields)

    def _request(self, action: str, version: str, champion: str, actor: str, reason: str) -> Move:
        """A forced move under the approval policy: recorded as a request that another person approves."""
        return self._wait(version, champion, actor, f"{action} requested: {reason}", {}, request=action)

    def _stepping_back(self, target: str, current: str) -> tuple[dict[str, str | None], dict[str, str]]:
        """Alias and state changes that put `target` back in service and retire `current`: one step
        back, and no alias left with a second meaning on the target."""
        aliases: dict[str, str | None] = {Alias.CHAMPION: target}
        for alias in (Alias.PREVIOUS, Alias.CHALLENGER, Alias.AWAITING):
            if self.registry.alias_version(alias) == target:
                aliases[alias] = None
        return aliases, {target: State.CHAMPION, current: State.RETIRED}
