"""retrain_job in-process: promotion only with evidence, and a failed retrain never touches the champion."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from model_changes import changes_for, crown
from world import DRIFT_WEEK, resources_for

from creditrisk.applicants.data import load_dataset
from creditrisk.model.credit_model import TrainConfig
from creditrisk.monitoring.episodes import retrain_decision
from creditrisk.monitoring.windows import week_windows
from creditrisk.registry.changes import MoveRefused
from creditrisk.registry.client import Registry
from creditrisk.registry.swap_rule import SwapRule
from creditrisk.training.run import train_and_register
from creditrisk_assets.definitions import ASSETS, CHECKS
from creditrisk_assets.jobs import retrain_job
from creditrisk_assets.sensors import CHANGE_TAG as RUN_CHANGE_TAG
from creditrisk_assets.sensors import retrained_in

RETRAIN = dg.AssetSelection.assets("candidate_model", "champion_model")


@pytest.fixture
def weak_world(world: dict, tmp_path: Path) -> dict:
    """The shared traffic, but a fresh registry whose champion is deliberately weak (300 rows, 5 stumps).

    The traffic was logged by the shared world's champion, version 1: the weak champion is version 2
    here, so the swap analysis's check (the log's own version rescored must match) applies to none of
    it, as for traffic an earlier champion answered.
    """
    changes = changes_for(f"sqlite:///{tmp_path / 'mlflow.db'}")
    raw, clean, _ = load_dataset(world["base_csv"])
    train_and_register(changes.registry, raw, clean.head(300), run_name="earlier", source="test",
                       config=TrainConfig(num_rounds=1, max_depth=1))
    weak = train_and_register(changes.registry, raw, clean.head(300), run_name="weak", source="test",
                              config=TrainConfig(num_rounds=5, max_depth=1))
    crown(changes, weak.version)
    return {**world, "root": tmp_path, "registry": changes.registry, "changes": changes,
            "weak_version": weak.version}


def retrain(world: dict, run_config: dict | None = None) -> dg.ExecuteInJobResult:
    return dg.materialize(ASSETS + CHECKS, selection=RETRAIN, partition_key=DRIFT_WEEK, raise_on_error=False,
                          instance=dg.DagsterInstance.ephemeral(), resources=resources_for(world),
                          run_config=run_config)


def aliases(registry: Registry) -> tuple[str | None, str | None, str | None]:
    """(champion, challenger, previous)."""
    return tuple(registry.alias_version(a) for a in ("champion", "challenger", "previous"))  # type: ignore[return-value]


def champion_meta(result: dg.ExecuteInJobResult) -> dict:
    (mat,) = result.asset_materializations_for_node("champion_model")
    return {k: v.value for k, v in mat.metadata.items()}


def test_clearly_better_challenger_is_promoted_and_aliases_swap(weak_world: dict,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A real model against the weak champion (5 stumps) changes about a third of the decisions: under
    # the default 10% a material change that waits for a person (tests/unit/registry/test_swap_guards.py);
    # this deployment accepts up to half, so the asset promotes by itself.
    monkeypatch.setenv("CREDITRISK_MAX_SWAP_SHARE", "0.5")
    result = retrain(weak_world)
    assert result.success
    meta = champion_meta(result)
    assert meta["waits_for_a_person"] == "none" and 0.1 < meta["swap_share"] <= 0.5
    new = meta["challenger_version"]
    w = week_windows(DRIFT_WEEK)
    store = weak_world["store"]
    assert meta["promoted"] is True and meta["gain_ci_low"] > 0, meta["reason"]
    applicants = store.read_window(*SwapRule().window(w.evaluation[0], w.as_of))
    assert meta["swap_in"] + meta["swap_out"] == round(meta["swap_share"] * len(applicants)) > 0
    assert "swap-in risk is a reject-inference assumption" in meta["swaps"]
    assert meta["evaluation_rows"] == len(store.read_window(*w.evaluation, labelled_only=True))
    assert aliases(weak_world["registry"]) == (new, None, weak_world["weak_version"])  # weak: rollback target
    tags = weak_world["registry"].version(new).tags
    assert tags["promote.reason"].startswith("promote: challenger AUC") \
        and tags["promote.actor"].startswith("dagster")
    (cand,) = result.asset_materializations_for_node("candidate_model")
    trained_on = store.read_window(datetime(1970, 1, 1, tzinfo=UTC), w.evaluation[0], labelled_only=True,
                                   reported_before=w.as_of)
    assert cand.metadata["production_rows"].value == len(trained_on) > 0  # older than the judged days only
    run = weak_world["registry"].client.get_run(cand.metadata["mlflow_run_id"].value)
    assert run.data.tags["trigger.drift_report"].startswith("none for this week")  # started by hand here
    assert run.data.params["training_data.outcome_cutoff"] == w.as_of.isoformat()  # reproducible labels
    assert run.data.params["training_data.rows"] == str(cand.metadata["base_rows"].value + len(trained_on))


@pytest.mark.parametrize("policy,why", [
    ({"CREDITRISK_MIN_EVALUATION_ROWS": "100000"}, "insufficient evidence"),
    ({"CREDITRISK_MIN_AUC_GAIN": "0.5"}, "does not clear margin"),
    ({"CREDITRISK_MAX_BRIER_INCREASE": "-0.5"}, "Brier increase up to"),  # a better ranker, worse calibrated
])
def test_under_evidenced_or_not_better_challenger_is_kept(weak_world: dict, policy: dict, why: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in policy.items():  # the deployment's evidence rule: its environment, not the run's config
        monkeypatch.setenv(k, v)
    result = retrain(weak_world)
    assert result.success
    meta = champion_meta(result)
    assert meta["promoted"] is False and why in meta["reason"]
    assert aliases(weak_world["registry"]) == (weak_world["weak_version"], None, None)
    assert weak_world["registry"].version(meta["challenger_version"]).tags["state"] == "rejected"
    last = weak_world["changes"].trail.events()[-1]
    assert last["action"] == "keep" and why in last["reason"]


def test_a_launch_cannot_change_the_policy_it_runs_under(weak_world: dict,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a launch with `promotion: auto, min_auc_gain: -1.0` promoted under an `approval` deployment.
    Now the run is refused before it trains, naming the settings, and the refusal is an audit event."""
    monkeypatch.setenv("CREDITRISK_PROMOTION", "approval")
    launch = {"resources": {"loop": {"config": {"promotion": "auto", "min_auc_gain": -1.0}}}}
    result = retrain(weak_world, run_config=launch)
    assert not result.success
    error = str(result.failure_data_for_node("candidate_model").error)
    assert "may not set the change policy (promotion='auto', min_auc_gain=-1.0)" in error
    assert aliases(weak_world["registry"]) == (weak_world["weak_version"], None, None)
    refusal = weak_world["changes"].trail.events()[-1]
    assert (refusal["action"], refusal["refused"], refusal["actor"]) == ("refuse", "launch", f"dagster run "
                                                                         f"{result.run_id}")
    assert refusal["overrides"] == {"promotion": "auto", "min_auc_gain": "-1.0"}
    registry = weak_world["registry"]
    assert len(registry.client.search_model_versions(f"name='{registry.model_name}'")) == 2  # nothing trained


def test_a_failing_candidate_run_leaves_the_champion_serving(weak_world: dict, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("person_age,oops\n1,2\n")
    monkeypatch.setenv("CREDITRISK_DATA", str(broken))
    result = retrain(weak_world)
    assert not result.success
    assert "broken.csv: missing columns" in str(result.failure_data_for_node("candidate_model").error)
    assert aliases(weak_world["registry"]) == (weak_world["weak_version"], None, None)
    assert not result.asset_materializations_for_node("champion_model")


def test_blocking_quality_floor_stops_promotion(weak_world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITRISK_MIN_CANDIDATE_AUC", "0.999")
    result = retrain(weak_world)
    evals = [e.asset_check_evaluation_data for e in result.all_events
             if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [(e.check_name, e.passed) for e in evals] == [("candidate_quality_floor", False),
                                                         ("candidate_age_rule", True),
                                                         ("candidate_validation", True)]
    floor = evals[0]  # the figure shown is the figure judged: the base rows of the holdout
    assert f"roc_auc {floor.metadata['roc_auc_actual'].value:.4f} vs floor 0.999" in floor.description
    assert floor.metadata["population"].value.startswith("the base data's rows")
    assert not result.asset_materializations_for_node("champion_model")
    # The candidate that failed the floor never became challenger (nothing to roll back to by mistake).
    assert aliases(weak_world["registry"]) == (weak_world["weak_version"], None, None)
    (cand,) = result.asset_materializations_for_node("candidate_model")
    assert cand.metadata["state"].value == "rejected"
    assert weak_world["changes"].trail.events()[-1]["action"] == "reject"


def test_blocking_age_rule_stops_a_model_that_scores_the_elderly_worse(
        weak_world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trained without the monotone age constraint, the candidate breaks Reg B: rejected, never judged."""
    unconstrained = TrainConfig(num_rounds=60, age_monotone=0, nthread=1)
    monkeypatch.setattr("creditrisk.training.run.TrainConfig", lambda: unconstrained)
    result = retrain(weak_world)
    evals = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
             for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    rule = evals["candidate_age_rule"]
    assert not rule.passed and evals["candidate_quality_floor"].passed
    assert "Reg B age rule broken" in rule.description
    assert rule.metadata["holdout_violations"].value > 0 and rule.metadata["holdout_profiles"].value == 500
    assert not result.asset_materializations_for_node("champion_model")
    assert aliases(weak_world["registry"]) == (weak_world["weak_version"], None, None)
    reject = weak_world["changes"].trail.events()[-1]
    assert reject["action"] == "reject" and "age_rule: Reg B age rule broken" in reject["reason"]


def test_a_refused_promotion_does_not_spend_the_episodes_retrain(
        weak_world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another move came first (MoveRefused): nothing was judged, so the episode may retrain again."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise MoveRefused("promote refused: @champion moved (champion 1 -> 7) since the evaluation began")

    monkeypatch.setattr("creditrisk_assets.assets.promotion.evaluate", refuse)
    instance, change = dg.DagsterInstance.ephemeral(), "2026-08-03T00:00:00+00:00"
    defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=[retrain_job],
                          resources=resources_for(weak_world))
    run = defs.resolve_job_def("retrain_job").execute_in_process(
        partition_key=DRIFT_WEEK, instance=instance, tags={RUN_CHANGE_TAG: change})
    assert run.success
    assert retrained_in(instance, change) is None
    assert champion_meta(run)["outcome"] == "refused"
    go, why = retrain_decision({"week": "2026-W32", "dataset_drift": True, "n_drifted": 2, "n_columns": 11,
                                "change_start": change, "retrain_ready": True},
                               retrained_in(instance, change))
    assert go and why == f"data drift (2/11 columns) in week 2026-W32, change since {change}"


def test_in_production_a_run_moves_as_the_identity_the_registry_authenticates(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every run was recorded as 'dagster run <id>', a typed name, so four eyes could not keep
    the trainer's identity from approving the candidate it trained. Locally the run id still names it."""
    from creditrisk_assets.resources import RegistryResource

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "svc-trainer")
    production = RegistryResource(tracking_uri="http://127.0.0.1:9", env="production",
                                  lock_uri="postgresql://trainer@127.0.0.1/locks")
    assert production.actor_for("r1") == "svc-trainer"
    assert RegistryResource(tracking_uri="sqlite:///unused.db").actor_for("r1") == "dagster run r1"
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert production.actor_for("r1") == "unauthenticated"  # and such an actor may not move a model
