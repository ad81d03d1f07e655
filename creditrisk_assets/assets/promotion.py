"""The champion: challenger vs champion on the last labelled days; promote only with evidence."""

from typing import Any

import dagster as dg

from creditrisk.constants import CHAMPION_ALIAS, LABEL, RETRAINING_GROUP
from creditrisk.promotion import decide
from creditrisk.registry import RegistryError
from creditrisk.windows import week_windows
from creditrisk_assets.assets.sources import request_log
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource


@dg.asset(partitions_def=WEEKS, group_name=RETRAINING_GROUP, kinds={"mlflow"}, deps=[request_log])
def champion_model(context: dg.AssetExecutionContext, candidate_model: dict[str, Any], store: StoreResource,
                   registry: RegistryResource, loop: LoopConfig) -> dg.Output[dict[str, Any]]:
    """The serving champion after comparing it with the challenger on held-out recent requests."""
    reg = registry.get_registry()
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    challenger = candidate_model["version"]
    actor = f"dagster run {context.run.run_id}"
    try:
        champ = reg.load(CHAMPION_ALIAS)
    except RegistryError:
        move = reg.promote(reason="no champion yet: first model promoted", actor=actor)
        out = {"promoted": True, "champion_version": move.champion, "reason": move.reason}
        return dg.Output(out, metadata={"promoted": True, "champion_version": move.champion,
                                        "reason": move.reason})
    rows = store.get_store().read_window(*w.evaluation, labelled_only=True)
    chal = reg.load(challenger)
    y = rows[LABEL].to_numpy(dtype="int64")
    decision = decide(y, champ.model.score_frame(rows), chal.model.score_frame(rows),
                      min_rows=loop.min_evaluation_rows, margin=loop.min_auc_gain)
    record = {**decision.as_dict(), "week": w.label, "champion_before": champ.version,
              "challenger": challenger,
              "evaluation_window": f"{w.evaluation[0]:%Y-%m-%d} .. {w.evaluation[1]:%Y-%m-%d}"}
    if decision.promote:
        reg.promote(reason=decision.reason, actor=actor, extra=record)
        served = challenger
    else:
        reg.record_decision(challenger, decision.reason, actor=actor, extra=record)
        served = champ.version
    context.log.info(decision.reason)
    metadata = {"promoted": decision.promote, "reason": decision.reason, "champion_version": served,
                "previous_champion": champ.version, "challenger_version": challenger,
                "evaluation_rows": decision.n_rows, "champion_auc": decision.champion_auc,
                "challenger_auc": decision.challenger_auc, "auc_gain": decision.auc_gain,
                "gain_ci_low": decision.gain_ci_low, "gain_ci_high": decision.gain_ci_high}
    return dg.Output({**record, "promoted": decision.promote, "champion_version": served}, metadata=metadata)
