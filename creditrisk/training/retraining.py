"""Retraining and evaluation as plain calls, shared by the Dagster assets and the CLI.

`train_candidate` trains on the base data plus labelled production rows, registers a version and
passes it through the candidate gates (quality floor, Regulation B's age rule on holdout and
synthetic profiles, validation): it becomes the challenger, or
is rejected with the reasons. `evaluate` judges a named challenger against the champion on held-out
labelled rows and records the outcome: promote, keep, or awaiting approval (under the approval
policy, or when the swap analysis trips a guard). Every move goes through `creditrisk.registry.changes`.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.applicants.schema import FEATURES, LABEL, loan_percent_income
from creditrisk.model.credit_model import RANDOM_SEED, WEIGHT, split_holdout
from creditrisk.model.credit_model import evaluate as evaluate_model
from creditrisk.registry.changes import ModelChanges
from creditrisk.registry.client import LoadedModel, RegistryError
from creditrisk.registry.states import Outcome
from creditrisk.registry.swap_rule import SwapRule
from creditrisk.settings import Promotion
from creditrisk.training.holdout import HoldoutReport
from creditrisk.training.lineage import DataReference
from creditrisk.training.promotion import PromotionDecision, decide
from creditrisk.training.run import TrainingResult, train_and_register
from creditrisk.training.swaps import SwapReport, analyse, rescore

# A labelled production row counts this many base rows, so recent traffic weighs more than the older
# base data set without discarding it.
PRODUCTION_WEIGHT = 3.0

# Only approved applicants ever have an outcome: the champion denied the others (so on these rows its
# own default recall at its threshold is 0 by construction, and its scores are range-restricted).
POPULATION = ("approved applicants of the evaluation window whose outcome was reported (labelled rows only; "
              "denied applicants never have one)")


@dataclass(frozen=True)
class Candidate:
    """A trained, registered version and what the candidate gates said of it."""

    version: str
    run_id: str
    metrics: dict[str, float]
    train_rows: int
    gates: dict[str, list[str]] = field(default_factory=dict)  # gate -> problems ([] = passed)
    report: HoldoutReport | None = None  # the age rule's figures and group outcomes on the holdout
    floor_metrics: dict[str, float] = field(default_factory=dict)  # what the quality floor judged

    @property
    def passed(self) -> bool:
        return not any(self.gates.values())


def training_frames(base_raw: pd.DataFrame, base: pd.DataFrame, production: pd.DataFrame,
                    production_weight: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw, preprocessed) training data: base rows weigh 1, labelled production rows more."""
    prod = production[FEATURES + [LABEL]].astype({LABEL: "int64"})
    prod = prod.astype({c: "object" for c in prod.columns if str(prod[c].dtype) == "string"})
    prod = prod.astype({"person_age": "int64"})
    # Requests logged before the server computed loan_percent_income carry the applicant's own value:
    # a model learns the server's, as the loader gives it for the base rows.
    learned = prod.assign(loan_percent_income=loan_percent_income(prod["loan_amnt"], prod["person_income"]))
    preprocessed = pd.concat([base[FEATURES + [LABEL]].assign(**{WEIGHT: 1.0}),
                              learned.assign(**{WEIGHT: production_weight})], ignore_index=True)
    raw = pd.concat([base_raw, prod], ignore_index=True)
    return raw, preprocessed


def floor_metrics(result: TrainingResult, preprocessed: pd.DataFrame,
                  production_weight: float) -> dict[str, float]:
    """The quality floor's metrics on the base-data rows of the candidate's holdout.

    Why: production rows are approved applicants only (denied ones never get an outcome), a
    population any model ranks far worse than the base data's applicants, so a floor set on the
    latter would reject sound candidates more often as the request log grows. The split is
    train_and_register's own (same rows, seed and stratification); base rows are those of weight 1.
    """
    _, holdout = split_holdout(preprocessed[FEATURES + [LABEL, WEIGHT]], seed=RANDOM_SEED)
    if production_weight == 1.0 or len(holdout) != result.rows.get("holdout"):
        return result.metrics  # the rows cannot be told apart: the whole holdout
    return evaluate_model(result.model, holdout[holdout[WEIGHT] == 1.0])


def train_candidate(changes: ModelChanges, base: tuple[pd.DataFrame, pd.DataFrame],
                    production: pd.DataFrame, *, production_weight: float, run_name: str,
                    data: DataReference, actor: str, reason: str,
                    tags: dict[str, str] | None = None,
                    progress: Callable[[str], None] = lambda _m: None) -> Candidate:
    """Train, register and gate one candidate (on change control's own floor); it ends as the challenger
    or rejected."""
    raw, preprocessed = training_frames(*base, production, production_weight)
    result = train_and_register(changes.registry, raw, preprocessed, run_name=run_name, source=data,
                                tags=tags, progress=progress)
    changes.register_candidate(result.version, actor=actor, reason=reason, **(tags or {}))
    judged = floor_metrics(result, preprocessed, production_weight)
    gates = {"quality_floor": changes.policy.floor.problems(judged),
             "age_rule": result.report.age_rule_problems() if result.report else ["not checked"],
             "validation": changes.validate(result.version).problems}
    candidate = Candidate(result.version, result.run_id, result.metrics, result.rows["train"], gates,
                          result.report, judged)
    if candidate.passed:
        changes.admit_challenger(result.version, actor=actor, floor_metrics=judged,
                                 age_rule=gates["age_rule"])
    else:
        changes.reject_candidate(result.version, actor=actor,
                                 reason="; ".join(f"{g}: {'; '.join(p)}" for g, p in gates.items() if p))
    return candidate


FIRST_MODEL = "no champion yet: the first model that passed the candidate gates"


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` decided: `outcome` is promoted, kept, awaiting_approval or first_model."""

    outcome: Outcome
    challenger: str
    champion_before: str | None
    decision: PromotionDecision | None
    record: dict[str, Any]
    swaps: SwapReport | None = None  # whose decisions the challenger would change, when applicants were given
    guards: list[str] = field(default_factory=list)  # why a winner waits for a person whatever the policy

    @property
    def serving(self) -> str | None:
        return self.challenger if self.outcome.serves_challenger else self.champion_before

    @property
    def reason(self) -> str:
        """The evidence's verdict, and the guards that make a winner wait for a person."""
        if self.decision is None:
            return FIRST_MODEL
        waits = f"; waits for a person: {'; '.join(self.guards)}" if self.guards else ""
        return self.decision.reason + waits


def evaluate(changes: ModelChanges, challenger: str, rows: pd.DataFrame, *, actor: str,
             context: dict[str, Any], applicants: pd.DataFrame | None = None) -> Evaluation:
    """Judge `challenger` (the version that was evaluated, by name) against the champion on `rows`,
    under change control's policy (its evidence rule, swap rule and promotion policy; no caller
    chooses them).

    `applicants`, every logged request of the policy's swap window (`policy.swaps.window`; outcomes
    joined where they matured), are rescored by both models for the swap-set analysis, recorded whole
    with the decision (`swaps`). A winner whose analysis trips a guard, or that has none, waits for a
    person under either promotion policy (`ModelChanges.guards`).
    """
    rule, policy = changes.policy.evidence, changes.policy.promotion
    champion = changes.champion()  # an unreachable registry raises: absence is only what it answers
    if champion is None:
        return _first_model(changes, challenger, policy=policy, actor=actor)
    with tempfile.TemporaryDirectory(prefix="creditrisk-evaluate-") as tmp:
        champ, chal = (_load(changes, v, Path(tmp) / v) for v in (champion, challenger))
        decision = decide(rows[LABEL].to_numpy(dtype="int64"), champ.model.score_frame(rows),
                          chal.model.score_frame(rows),
                          thresholds=(champ.model.threshold, chal.model.threshold),
                          min_rows=rule.min_rows, margin=rule.margin,
                          max_brier_increase=rule.max_brier_increase, max_recall_drop=rule.max_recall_drop,
                          min_defaults=rule.min_defaults, min_repaid=rule.min_repaid)
        swaps = None if applicants is None or applicants.empty else _swaps(applicants, champ, chal, champion,
                                                                          changes.policy.swaps)
    record = {**decision.as_dict(), **context, "population": POPULATION, "policy": str(policy)}
    if swaps is not None:
        record["swaps"] = swaps.as_dict()
    record.pop("reason")
    if not decision.promote:
        changes.keep(challenger, expected_champion=champion, actor=actor, reason=decision.reason,
                     evidence=record)
        return Evaluation(Outcome.KEPT, challenger, champion, decision, record, swaps)
    guards = changes.guards(champion, record)
    if policy is Promotion.APPROVAL or guards:
        waiting = Evaluation(Outcome.AWAITING_APPROVAL, challenger, champion, decision, record, swaps, guards)
        changes.await_approval(challenger, expected_champion=champion, actor=actor, reason=waiting.reason,
                               evidence=record)
        return waiting
    changes.promote(challenger, expected_champion=champion, actor=actor, reason=decision.reason,
                    evidence=record)
    return Evaluation(Outcome.PROMOTED, challenger, champion, decision, record, swaps)


def _swaps(applicants: pd.DataFrame, champ: LoadedModel, chal: LoadedModel, champion: str,
           rule: SwapRule) -> SwapReport:
    """Whose decisions the challenger would change; SwapError if the log disagrees with the champion."""
    pc, ph = rescore(applicants, champ.model, chal.model, champion)
    y = applicants[LABEL].to_numpy(dtype=float, na_value=np.nan)
    return analyse(applicants, pc, ph, (champ.model.threshold, chal.model.threshold), y=y, rule=rule)


def _load(changes: ModelChanges, version: str, folder: Path) -> LoadedModel:
    try:
        return changes.registry.load(version, dst=folder)
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken artifact: say which, never a stack trace
        raise RegistryError(f"version {version} could not be loaded for evaluation: {exc}") from exc


def _first_model(changes: ModelChanges, challenger: str, *, policy: Promotion, actor: str) -> Evaluation:
    """No champion: the first gated model serves, unless versions served before (then the alias was
    lost and a person restores it) or a person must approve it."""
    served = changes.served_versions()
    if served:
        raise RegistryError(f"@champion is missing although versions served before (last: {served[-1]}): "
                            f"restore it with `creditrisk rollback --to {served[-1]}`")
    reason = FIRST_MODEL
    if policy is Promotion.APPROVAL:
        changes.await_approval(challenger, expected_champion=None, actor=actor, reason=reason)
        return Evaluation(Outcome.AWAITING_APPROVAL, challenger, None, None, {})
    changes.promote(challenger, expected_champion=None, actor=actor, reason=reason)
    return Evaluation(Outcome.FIRST_MODEL, challenger, None, None, {})
