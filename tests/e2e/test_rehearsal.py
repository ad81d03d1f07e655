"""`creditrisk rehearse`: the production topology on loopback runs a drifted week, then stops cleanly."""
from __future__ import annotations

from pathlib import Path

import pytest

from creditrisk_app.rehearsal.run import rehearse

pytestmark = pytest.mark.slow
STEPS = ("postgres", "bigquery emulator", "mlflow server", "bootstrap", "ray cluster", "serve deploy",
         "replicas on both nodes", "dagster-webserver + dagster-daemon", "weekly_drift_job",
         "the sensor's retrain_job", "awaiting approval", "approved by", "serve the new version",
         "every answered request is in BigQuery")


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
    assert leftovers() == []
