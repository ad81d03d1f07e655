"""`creditrisk rehearse`: the production topology on loopback, with an MLflow user per role, runs the
drifted weeks, then stops cleanly."""
from __future__ import annotations

from pathlib import Path

import pytest

from creditrisk_app.rehearsal.run import rehearse

pytestmark = pytest.mark.slow
STEPS = ("postgres", "bigquery emulator", "mlflow server", "basic-auth", "grants", "bootstrap by rehearsal-",
         "ray cluster", "serve deploy", "replicas on both nodes", "dagster-webserver + dagster-daemon",
         "weekly_drift_job", "the sensor's retrain_job", "awaiting approval",
         "the serving user cannot move an alias", "anonymous client cannot read",
         "cannot approve", "approved by", "serve the new version",
         "the worker node killed under load: every answer stored",
         "every answered request is in BigQuery", "prometheus scraping both Ray nodes",
         "CreditriskDrift fires", "CreditriskDrift is quiet", "served-version gauge moved",
         "decision counters sum to the requests answered", "Grafana dashboard returns data")


def leftovers() -> list[str]:
    """Processes still running from a rehearsal (its folders are in their command lines)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "creditrisk-rehearsal-" in cmd or "creditrisk-pg-" in cmd:
            found.append(cmd[:160])
    return found


def test_the_rehearsal_passes_every_step_and_leaves_nothing_running(real_csv: Path) -> None:
    lines: list[str] = []
    passed = rehearse(lines.append, data=str(real_csv))
    print("\n".join(lines))
    assert passed, "\n".join(lines)
    for step in STEPS:
        assert any(" PASS " in line and step in line for line in lines), f"no PASS line for {step!r}"
    assert not any(" FAIL " in line for line in lines)
    # The refusals are the server's (403 for a user without the grant, 401 without credentials),
    # and the four-eyes refusal names the trainer (Dagster's identity) who started the candidate.
    assert any("cannot move an alias" in line and "PERMISSION_DENIED" in line for line in lines)
    assert any("cannot read" in line and "UNAUTHENTICATED" in line for line in lines)
    assert any("rehearsal-trainer started candidate" in line for line in lines)
    assert any("approved by rehearsal-reviewer-1" in line for line in lines)
    assert leftovers() == []
