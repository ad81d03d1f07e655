"""The champion: challenger vs champion on the last labelled days; promote only with evidence."""

from typing import Any

import dagster as dg

from creditrisk.changes import MoveRefused
from creditrisk.constants import LABEL, RETRAINING_GROUP
from creditrisk.promotion import decide
from creditrisk.registry import RegistryError
from creditrisk.windows import WeekWindows, week_windows
from creditrisk_assets.assets.sources import request_log
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource

POPULATION = "requests of the evaluation window whose outcome was reported (labelled rows only)"


@dg.asset(partitions_def=WEEKS, group_name=RETRAINING_GROUP, kinds={"mlflow"}, deps=[request_log])
def champion_model(context: dg.AssetExecutionContext, candidate_model: dict[str, Any], store: StoreResource,
                   registry: RegistryResource, loop: LoopConfig) -> dg.Output[dict[str, Any]]:
    """The serving champion after comparing it with the challenger on held-out recent requests."""
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    challenger, actor = str(candidate_model["version"]), f"dagster run {context.run_id}"
    try:
        return _decide(context, registry, store, loop, w, challenger, actor)
    except MoveRefused as refused:  # another move came first: nothing moved, and the trail says why
        context.log.warning(str(refused))
        meta = {"promoted": False, "refused": True, "reason": str(refused), "challenger_version": challenger}
        return dg.Output({**meta, "champion_version": None}, metadata=meta)
    except RegistryError as exc:  # the registry could not answer: never decide blind, try again later
        raise dg.RetryRequested(max_retries=2, seconds_to_wait=10) from exc


def _decide(context: dg.AssetExecutionContext, registry: RegistryResource, store: StoreResource,
            loop: LoopConfig, w: WeekWindows, challenger: str, actor: str) -> dg.Output[dict[str, Any]]:
    changes = registry.get_changes()
    champion = changes.champion()  # an unreachable registry raises: absence is only what it answers
    if champion is None:
        changes.promote(challenger, expected_champion=None, actor=actor,
                        reason="no champion yet: the first model that passed the candidate gates")
        meta = {"promoted": True, "champion_version": challenger, "reason": "no champion yet"}
        return dg.Output(meta, metadata=meta)
    rows = store.get_store().read_window(*w.evaluation, labelled_only=True)
    champ, chal = changes.registry.load(champion), changes.registry.load(challenger)
    decision = decide(rows[LABEL].to_numpy(dtype="int64"), champ.model.score_frame(rows),
                      chal.model.score_frame(rows), thresholds=(champ.model.threshold, chal.model.threshold),
                      min_rows=loop.min_evaluation_rows, margin=loop.min_auc_gain,
                      max_brier_increase=loop.max_brier_increase, max_recall_drop=loop.max_recall_drop)
    record = {**decision.as_dict(), "week": w.label, "population": POPULATION,
              "evaluation_window": f"{w.evaluation[0]:%Y-%m-%d} .. {w.evaluation[1]:%Y-%m-%d}"}
    record.pop("reason")
    move = changes.promote if decision.promote else changes.keep
    move(challenger, expected_champion=champion, actor=actor, reason=decision.reason, evidence=record)
    served = challenger if decision.promote else champion
    context.log.info(decision.reason)
    metadata = {"promoted": decision.promote, "reason": decision.reason, "champion_version": served,
                "previous_champion": champion, "challenger_version": challenger, "population": POPULATION,
                **{k: record[k] for k in ("n_rows", "champion_auc", "challenger_auc", "auc_gain",
                                          "gain_ci_low", "gain_ci_high", "brier_increase",
                                          "brier_increase_ci_high", "recall_change", "recall_change_ci_low")}}
    metadata["evaluation_rows"] = metadata.pop("n_rows")
    return dg.Output({**record, "promoted": decision.promote, "champion_version": served,
                      "reason": decision.reason}, metadata=metadata)
