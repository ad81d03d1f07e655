"""Which retrains spend a drift episode's one retrain, judged by drift_sensor itself (issue 20, finding 4).

The runs are stand-ins named `retrain_job`, carrying the episode's tag and recording what a real
retrain records (candidate_model's `state`, champion_model's `outcome`), so no model is trained here.
"""

import dagster as dg
import pytest

from creditrisk_assets.definitions import build_definitions
from creditrisk_assets.sensors import CHANGE_TAG, drift_sensor

CHANGE = "2026-08-03T00:00:00+00:00"
WEEK = "2026-08-16"


def record(asset: str, metadata: dict, fail: bool) -> dg.OpDefinition:
    @dg.op(name=f"record_{asset}")
    def op(context: dg.OpExecutionContext) -> None:
        if asset:
            context.log_event(dg.AssetMaterialization(asset, partition=WEEK, metadata=metadata))
        if fail:
            raise dg.Failure("the run failed")
    return op


def past_retrain(instance: dg.DagsterInstance, asset: str, metadata: dict, fail: bool = False) -> str:
    """A finished `retrain_job` run of the episode that recorded `metadata` on `asset` (none if empty)."""
    job = dg.GraphDefinition(name="retrain_job", node_defs=[record(asset, metadata, fail)]).to_job()
    return job.execute_in_process(instance=instance, tags={CHANGE_TAG: CHANGE}, raise_on_error=False).run_id


def flagged_report(instance: dg.DagsterInstance) -> None:
    """A drift report of the episode, flagged, with labels to learn from."""
    meta = {"week": "2026-W33", "dataset_drift": True, "n_drifted": 2, "n_columns": 11,
            "change_start": CHANGE, "retrain_ready": True}
    job = dg.GraphDefinition(name="weekly", node_defs=[record("drift_report", meta, False)]).to_job()
    job.execute_in_process(instance=instance)


@pytest.mark.parametrize(("asset", "metadata", "fail", "counts"), [
    ("champion_model", {"outcome": "refused", "promoted": False}, False, False),  # another move came first
    ("", {}, True, False),  # failed before deciding anything (a crash, a registry outage after its retries)
    ("champion_model", {"outcome": "kept", "promoted": False}, False, True),  # lost on the evidence
    ("champion_model", {"outcome": "awaiting_approval", "promoted": False}, False, True),
    ("champion_model", {"outcome": "promoted", "promoted": True}, True, True),  # decided, then a step failed
    ("candidate_model", {"state": "rejected"}, True, True),  # a blocking gate rejected it: the run fails
])
def test_only_a_retrain_that_decided_spends_the_episode(asset: str, metadata: dict, fail: bool,
                                                        counts: bool) -> None:
    """Before: a candidate rejected by its gates (run failed) retrained again, and a decided run that
    failed later did too."""
    instance = dg.DagsterInstance.ephemeral()
    run_id = past_retrain(instance, asset, metadata, fail)
    flagged_report(instance)
    tick = drift_sensor.evaluate_tick(dg.build_sensor_context(instance=instance,
                                                              definitions=build_definitions()))
    if counts:
        assert not tick.run_requests and tick.skip_message.endswith(f"already retrained for in run {run_id}")
    else:
        (request,) = tick.run_requests
        assert request.tags[CHANGE_TAG] == CHANGE and request.partition_key == WEEK
