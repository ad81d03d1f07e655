"""The alert rules in deploy/prometheus/, unit-tested by `promtool test rules` (each firing and not)."""
from __future__ import annotations

import re
import subprocess

import pytest
from promtool import README, RULES, promtool


@pytest.mark.parametrize("tests", sorted(p.name for p in RULES.glob("*.test.yml")))
def test_promtool_passes_the_rule_tests(tests: str) -> None:
    done = subprocess.run([promtool(), "test", "rules", tests], cwd=RULES, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_is_tested_firing_and_not_firing() -> None:
    rules = re.findall(r"- alert: (\w+)", (RULES / "creditrisk-rules.yml").read_text())
    tests = "".join(p.read_text() for p in RULES.glob("*.test.yml"))
    for name in rules:
        cases = re.findall(rf"alertname: {name}(,? exp_alerts: \[\]|\n)", tests)
        assert any(c.strip(", \n") for c in cases) and any(not c.strip(", \n") for c in cases), name


def test_every_metric_a_rule_reads_is_in_the_readme_table() -> None:
    rules = (RULES / "creditrisk-rules.yml").read_text().split("groups:", 1)[1]
    used = set(re.findall(r"(?<!\")\b((?:creditrisk|ray_serve)_\w+?)(?:_bucket)?\b", rules))
    table = README.read_text().split("### Metrics and alerts", 1)[1].split("\n## ", 1)[0]
    assert {m for m in used if f"`{m}`" not in table} == set()
