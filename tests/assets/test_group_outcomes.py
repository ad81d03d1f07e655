"""The weekly outcomes by group, in-process: figures that plot across weeks, equal to the week's log."""
from __future__ import annotations

import dagster as dg
import pytest
from world import NORMAL_WEEK, resources_for

from creditrisk.monitoring.windows import week_windows
from creditrisk_assets.definitions import ASSETS, CHECKS, build_definitions


def test_group_outcomes_of_a_week_equal_the_logged_decisions(world: dict) -> None:
    result = dg.materialize(ASSETS + CHECKS, selection=dg.AssetSelection.assets("raw_requests",
                                                                                "group_outcomes_weekly"),
                            partition_key=NORMAL_WEEK, instance=dg.DagsterInstance.ephemeral(),
                            resources=resources_for(world))
    assert result.success
    (mat,) = result.asset_materializations_for_node("group_outcomes_weekly")
    meta = {k: v.value for k, v in mat.metadata.items()}
    rows = world["store"].read_window(*week_windows(NORMAL_WEEK).current)
    labelled = rows["loan_status"].notna()
    assert f"({len(rows)})" in meta["applicants"] and f"({labelled.sum()} of {len(rows)})" in meta[
        "labelled_population"]
    for band, (lo, hi) in {"18-24": (18, 24), "25-34": (25, 34)}.items():
        group = rows[(rows["person_age"] >= lo) & (rows["person_age"] <= hi)]
        assert meta[f"approval_rate/age band {band}"] == pytest.approx((group["prediction"] == 0).mean())
        defaults = group[group["loan_status"] == 1]  # labelled defaults: a missing outcome is never 1
        assert meta[f"recall_default/age band {band}"] == pytest.approx((defaults["prediction"] == 1).mean())
    rent = rows[rows["person_home_ownership"] == "RENT"]
    assert meta["observed_default_rate/home ownership RENT"] == pytest.approx(rent["loan_status"].mean())
    assert all(isinstance(v, float) for k, v in meta.items() if "/" in k)  # plotted across partitions
    assert len(meta["groups"].records) >= 6
    # the weekly job materializes it with the drift report (same asset group)
    job = build_definitions().resolve_job_def("weekly_drift_job")
    assert "group_outcomes_weekly" in {k.path[-1] for k in job.asset_layer.executable_asset_keys}
