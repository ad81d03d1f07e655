"""Model change control: the only moves of a version between its states.

States (the version tag `state`) and aliases are named in `creditrisk.registry.states`: candidate ->
challenger -> awaiting_approval (the approval policy, or a swap guard) -> champion -> previous ->
retired, or rejected / superseded.

Every move takes the registry lock, re-reads the aliases it depends on and refuses (recording why)
when they moved; the recording itself (`creditrisk.registry.moves`) writes the audit event before
the alias changes it names. No version becomes challenger or champion without passing the
validation gate, and each is judged against the deployment's change policy
(`creditrisk.registry.policy`), whatever its caller says: a winner whose recorded swap analysis
trips a guard (or that records none) is never promoted, only made to wait for a person. Every event
that moves @champion records the digest of the files the gate checked, which the serving replicas
compare with theirs.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditrisk.registry.client import RegistryError
from creditrisk.registry.moves import DecisionHook, Move, MoveRefused, Moves, ValidationFailed
from creditrisk.registry.states import Alias, State
from creditrisk.settings import Promotion

__all__ = ["DecisionHook", "ModelChanges", "Move", "MoveRefused", "ValidationFailed"]


class ModelChanges(Moves):
    """Moves versions between states for one registered model; each move is locked and audited, and
    judged against the deployment's `policy` (`creditrisk.registry.policy`), whatever the caller says."""

    def guards(self, expected_champion: str | None, evidence: Mapping[str, Any] | None) -> list[str]:
        """Why a change must wait for a person whatever the promotion policy: the policy's swap rule on
        the evaluation's recorded swap analysis (none recorded is a reason: fail closed). A first model,
        with no champion to compare with and none that ever served, changes no one's decision."""
        if expected_champion is None and not self.served_versions():
            return []
        return self.policy.swaps.problems((evidence or {}).get("swaps"))

    # -- moves -----------------------------------------------------------------------------------
    def refuse_overrides(self, overrides: dict[str, Any], *, actor: str) -> None:
        """Refuse (and record) a run whose launch configuration set deployment settings of the policy."""
        names = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        with self.lock():
            self._refuse("launch", "", actor, f"a run's launch configuration may not set the change policy "
                         f"({names}): it is this deployment's setting (README \"Configuration\"); nothing "
                         "was trained or moved", overrides={k: str(v) for k, v in overrides.items()})

    def bootstrap(self, version: str, *, actor: str, reason: str, forced: bool) -> Move:
        """A freshly trained first champion; replacing one (`forced`) under the approval policy only
        requests it (`@awaiting`), and another person's `approve` crowns it."""
        check = self._require_valid("bootstrap", version, actor)
        with self.lock():
            old = self.champion()
            if old is not None and not forced:
                self._refuse("bootstrap", version, actor,
                             f"{self.registry.model_name}@{Alias.CHAMPION} is already version {old}")
            if old is not None and self.policy.promotion is Promotion.APPROVAL:
                return self._request("bootstrap", version, old, actor, reason)
            aliases, states = self._crowning(version, old)
            return self._apply("bootstrap", version, old, actor, reason, aliases=aliases, states=states,
                               forced=forced, artifact_digest=check.digest)

    def register_candidate(self, version: str, *, actor: str, reason: str, **fields: Any) -> Move:
        with self.lock():
            return self._apply("candidate", version, self.champion(), actor, reason,
                               states={version: State.CANDIDATE}, **fields)

    def admit_challenger(self, version: str, *, actor: str, floor_metrics: dict[str, float],
                         age_rule: list[str]) -> Move:
        """A candidate becomes the challenger (an unjudged older one is superseded) only if its
        `floor_metrics` clear the policy's quality floor, the age rule found nothing and it passes the
        validation gate: all three are judged here, so no caller can skip or loosen them."""
        problems = [f"quality floor: {p}" for p in self.policy.floor.problems(floor_metrics)]
        problems += [f"age rule: {p}" for p in age_rule]
        if problems:
            with self.lock():
                self._refuse("challenger", version, actor, f"version {version} may not become challenger: "
                             + "; ".join(problems), floor=dict(floor_metrics), policy=self.policy.as_dict())
        self._require_valid("challenger", version, actor)
        gates = {"quality_floor": "passed", "age_rule": "passed", "floor_metrics": dict(floor_metrics),
                 "floor": self.policy.as_dict()["floor"]}
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

    def promote(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
                evidence: dict[str, Any] | None = None) -> Move:
        """The evaluated challenger replaces the champion it was compared with, if its `evidence` clears
        the policy's rule and the policy is `auto`; otherwise nothing moves."""
        check = self._require_valid("promote", version, actor)
        with self.lock():
            if self.policy.promotion is Promotion.APPROVAL:
                self._refuse("promote", version, actor, f"promotion of version {version} refused: this "
                             "deployment's policy is approval (a winner waits for a second person)",
                             policy=self.policy.as_dict())
            self._check("promote", version, expected_champion, actor)
            self._judge("promote", version, expected_champion, actor, evidence)
            guards = self.guards(expected_champion, evidence)
            if guards:
                self._refuse("promote", version, actor, f"promotion of version {version} refused: a person "
                             f"must decide on it ({'; '.join(guards)}); it may only wait for approval",
                             guards=guards, policy=self.policy.as_dict())
            aliases, states = self._crowning(version, expected_champion)
            return self._apply("promote", version, expected_champion, actor, reason, aliases=aliases,
                               states=states, evidence=evidence, policy=self.policy.as_dict(),
                               artifact_digest=check.digest)

    def keep(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
             **evidence: Any) -> Move:
        """The challenger lost its evaluation: the champion stays, the challenger is rejected."""
        with self.lock():
            self._check("keep", version, expected_champion, actor)
            return self._apply("keep", version, expected_champion, actor, reason,
                               aliases={Alias.CHALLENGER: None}, states={version: State.REJECTED}, **evidence)

    def await_approval(self, version: str, *, expected_champion: str | None, actor: str, reason: str,
                       evidence: dict[str, Any] | None = None) -> Move:
        """A challenger whose evidence clears the rule waits for a person (an older waiting one goes); the
        swap guards that make it wait, judged here, are recorded with it."""
        with self.lock():
            self._check("await_approval", version, expected_champion, actor)
            self._judge("await_approval", version, expected_champion, actor, evidence)
            return self._wait(version, expected_champion, actor, reason, {Alias.CHALLENGER: None},
                              evidence=evidence, guards=self.guards(expected_champion, evidence),
                              policy=self.policy.as_dict())

    def approve(self, version: str, *, actor: str, reason: str) -> Move:
        """A person approves the waiting winner: it replaces the champion it was evaluated against."""
        with self.lock():  # four eyes first: a refused approver need not wait for the artifact's download
            self._four_eyes("approve", version, actor)
        check = self._require_valid("approve", version, actor)
        with self.lock():
            if self.awaiting() != version:
                self._refuse("approve", version, actor, f"version {version} is not awaiting approval")
            self._four_eyes("approve", version, actor)
            waiting = self._last(version, "await_approval")
            expected = waiting.get("champion")
            self._check("approve", version, expected, actor, alias=Alias.AWAITING)
            aliases, states = (self._stepping_back(version, expected) if waiting.get("request") == "rollback"
                               else self._crowning(version, expected))
            return self._apply("approve", version, expected, actor, reason, aliases=aliases, states=states,
                               request=waiting.get("request"), artifact_digest=check.digest)

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
        """Back to the previous champion (or `to`, a version that served) at once; to a version that never
        served with `force`, which under the approval policy is a request another person approves."""
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
            served = target in self.served_versions()
            if not served and not force:
                self._refuse("rollback", target, actor, f"version {target} never served; rolling back to it "
                             "needs --force (it would decide loans without having been champion)")
            if not served and self.policy.promotion is Promotion.APPROVAL:
                return self._request("rollback", target, current, actor, reason)
            aliases, states = self._stepping_back(target, current)
            return self._apply("rollback", target, current, actor, reason, aliases=aliases, states=states,
                               forced=force, artifact_digest=check.digest)
