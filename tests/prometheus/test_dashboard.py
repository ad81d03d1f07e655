"""The Grafana dashboard in deploy/grafana/: its four rows, and every panel's query valid PromQL on
series the README table defines (promtool checks them as recording rules, offline)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml  # type: ignore[import-untyped]
from promtool import README, promtool

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "creditrisk.json"


def queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels if p["type"] != "row" for t in p["targets"]]


def test_the_dashboard_has_a_row_for_the_service_the_log_the_model_and_the_loop() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert [p["title"] for p in panels if p["type"] == "row"] == ["Service", "Request log", "Model",
                                                                  "Loop (weekly)"]
    assert len(queries()) >= 16


def test_every_query_is_valid_promql_on_series_the_readme_defines(tmp_path: Path) -> None:
    table = README.read_text().split("### Metrics and alerts", 1)[1].split("\n## ", 1)[0]
    used = {m for _, expr in queries()
            for m in re.findall(r"\b((?:creditrisk|ray_serve)_\w+?)(?:_bucket)?\b", expr)}
    assert {m for m in used if f"`{m}`" not in table} == set()
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:panel_{i}", "expr": expr}
                                                        for i, (_, expr) in enumerate(queries())]}]}
    (tmp_path / "panels.yml").write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool(), "check", "rules", "panels.yml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_series_of_the_readme_table_is_on_some_panel() -> None:
    table = README.read_text().split("### Metrics and alerts", 1)[1].split("| alert |", 1)[0]
    listed = set(re.findall(r"`((?:creditrisk|ray_serve)_\w+)`", table))
    shown = " ".join(expr for _, expr in queries())
    assert {m for m in listed if not re.search(rf"\b{m}(_bucket)?\b", shown)} == set()
