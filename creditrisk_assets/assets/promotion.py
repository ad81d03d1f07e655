"""The champion: challenger vs champion on the last labelled days; promote only with evidence."""

from typing import Any

import dagster as dg

from creditrisk.monitoring.exported import decision_figures
from creditrisk.monitoring.windows import week_windows
from creditrisk.registry.changes import MoveRefused
from creditrisk.registry.client import RegistryError
from creditrisk.registry.locks import LockUnavailable
from creditrisk.registry.states import Outcome
from creditrisk.training.retraining import evaluate
from creditrisk_assets.assets.sources import request_log
from creditrisk_assets.groups import RETRAINING_GROUP
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource

_NUMBERS = ("n_rows", "champion_auc", "challenger_auc", "auc_gain", "gain_ci_low", "gain_ci_high",
            "brier_increase", "brier_increase_ci_high", "recall_change", "recall_change_ci_low", "population")


@dg.asset(partitions_def=WEEKS, group_name=RETRAINING_GROUP, kinds={"mlflow"}, deps=[request_log])
def champion_model(context: dg.AssetExecutionContext, candidate_model: dict[str, Any], store: StoreResource,
                   registry: RegistryResource, loop: LoopConfig) -> dg.Output[dict[str, Any]]:
    """The serving champion after comparing it with the challenger on held-out recent requests."""
    changes, actor = registry.get_changes(), registry.actor_for(context.run_id)
    loop.refuse_launch_overrides(changes, actor)
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    challenger = str(candidate_model["version"])  # the version evaluated, by name
    log = store.get_store()
    rows = log.read_window(*w.evaluation, labelled_only=True)
    window = f"{w.evaluation[0]:%Y-%m-%d} .. {w.evaluation[1]:%Y-%m-%d}"
    swap_window = changes.policy.swaps.window(w.evaluation[0], w.as_of)  # the deployment's, not the run's
    applicants = log.read_window(*swap_window, reported_before=w.as_of)
    try:
        ev = evaluate(changes, challenger, rows, actor=actor,
                      context={"week": w.label, "evaluation_window": window}, applicants=applicants)
    except MoveRefused as refused:  # another move came first: nothing moved, and the trail says why
        context.log.warning(str(refused))
        meta = {"promoted": False, "refused": True, "outcome": str(Outcome.REFUSED), "reason": str(refused),
                "challenger_version": challenger}
        return dg.Output({**meta, "champion_version": "unchanged (the move was refused)"}, metadata=meta)
    except (RegistryError, LockUnavailable) as exc:  # never decide blind: try again later
        raise dg.RetryRequested(max_retries=2, seconds_to_wait=10) from exc
    reason = ev.reason
    context.log.info(f"{ev.outcome}: {reason}")
    metadata = {"promoted": ev.outcome.serves_challenger, "outcome": str(ev.outcome),
                "reason": reason,
                "champion_version": ev.serving, "previous_champion": ev.champion_before or "none",
                "challenger_version": challenger,
                "awaiting_approval": ev.outcome is Outcome.AWAITING_APPROVAL,
                "waits_for_a_person": "; ".join(ev.guards) or "none",
                **{k: ev.record[k] for k in _NUMBERS if k in ev.record}}
    if ev.swaps is not None:
        metadata |= {"swap_in": ev.swaps.counts["swap_in"], "swap_out": ev.swaps.counts["swap_out"],
                     "swap_share": ev.swaps.swap_share, "swap_guards": "; ".join(ev.swaps.guards) or "none",
                     "swap_line": ev.swaps.line(), "swaps": dg.MetadataValue.md(ev.swaps.markdown())}
    if "n_rows" in metadata:
        metadata["evaluation_rows"] = metadata.pop("n_rows")
    metadata |= loop.push_figures("champion_model", decision_figures(str(ev.outcome), ev.serving),
                                  {"week": w.label, "outcome": str(ev.outcome)}, context.log)
    return dg.Output({**ev.record, **metadata}, metadata=metadata)
