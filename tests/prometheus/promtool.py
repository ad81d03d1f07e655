"""What the Prometheus tests share: where the rules and the README are, and Debian's promtool."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
README = Path(__file__).resolve().parents[2] / "README.md"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("no promtool: run `bash tests/prometheus/setup.sh` (make test does)", pytrace=False)
    return path
