"""The production scrape config and the one the demo and the rehearsal generate: both valid for
`promtool check config`, both renaming Ray's `ray_creditrisk_*` to the names the rules read."""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml  # type: ignore[import-untyped]
from promtool import RULES, promtool

from creditrisk_app.observability import prometheus_config


def check_config(path: Path) -> None:
    done = subprocess.run([promtool(), "check", "config", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_production_scrape_config_is_valid() -> None:
    check_config(RULES / "scrape.yml")


def test_the_generated_config_is_valid_and_renames_rays_prefix(tmp_path: Path) -> None:
    config = prometheus_config(["127.0.0.2:9000", "127.0.0.3:9000"], "http://127.0.0.1:9091")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    check_config(tmp_path / "prometheus.yml")
    (relabel,) = config["scrape_configs"][0]["metric_relabel_configs"]
    assert relabel["regex"] == "ray_(creditrisk_.*)" and relabel["replacement"] == "$1"
    assert config["scrape_configs"][1]["honor_labels"] is True  # keeps job="creditrisk_loop" as pushed
