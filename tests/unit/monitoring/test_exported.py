"""The loop's figures for Prometheus: the text format, and a push that fails says why without the URL."""
from __future__ import annotations

import math

from creditrisk.monitoring.exported import drift_figures, exposition, push
from serving.runtime import free_port


def test_the_exposition_is_prometheus_text_with_nan_for_what_was_not_judged() -> None:
    text = exposition({"creditrisk_realized_auc": math.nan, "creditrisk_dataset_drift": 1.0},
                      {"week": "2026-W05", "note": 'a "quoted" value'})
    assert text.splitlines() == [
        "# TYPE creditrisk_realized_auc gauge",
        'creditrisk_realized_auc{note="a \\"quoted\\" value",week="2026-W05"} NaN',
        "# TYPE creditrisk_dataset_drift gauge",
        'creditrisk_dataset_drift{note="a \\"quoted\\" value",week="2026-W05"} 1.0']
    figures = drift_figures({"dataset_drift": True, "n_drifted": 2, "n_columns": 11, "estimate/auc": "0.91"},
                            now=5.0)
    assert figures["creditrisk_drift_share"] == 2 / 11 and figures["creditrisk_estimated_auc"] == 0.91
    assert figures["creditrisk_weekly_run_last_success_timestamp_seconds"] == 5.0


def test_a_push_that_fails_is_reported_without_the_gateway_address() -> None:
    secret = f"http://user:s3cret@127.0.0.1:{free_port()}"  # nothing listens there
    refused = push(secret, "drift_report", {"creditrisk_dataset_drift": 0.0}, {"week": "2026-W05"})
    assert not refused.delivered and "could not be reached" in refused.problem
    assert "s3cret" not in refused.problem and "127.0.0.1" not in refused.problem
    malformed = push("ht!tp://user:s3cret@host", "drift_report", {}, {})
    assert not malformed.delivered and "s3cret" not in malformed.problem
    unset = push(None, "drift_report", {}, {})
    assert not unset.delivered and "CREDITRISK_PUSHGATEWAY" in unset.problem
