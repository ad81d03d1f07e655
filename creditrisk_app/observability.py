"""Debian's Prometheus and pushgateway on loopback for the demo and the rehearsal, and the PromQL
queries their checks ask.

Prometheus scrapes each Ray node's metrics agent (every replica's series) and the pushgateway (the
weekly loop's figures), renames Ray's `ray_creditrisk_*` to `creditrisk_*` as
`deploy/prometheus/scrape.yml` does in production, and evaluates the alert rules of
`deploy/prometheus/creditrisk-rules.yml`. Both are optional parts: `installed()` says whether the
binaries are there (`make test` installs them; `make run` has no apt step).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from creditrisk_app.processes import REPO, Service, _spawn

PROMETHEUS, PUSHGATEWAY = "prometheus", "prometheus-pushgateway"
INSTALL_HINT = "apt-get install prometheus prometheus-pushgateway (or `bash tests/prometheus/setup.sh`)"
SCRAPE_INTERVAL_S = 2  # short, so that a check sees a request counted within seconds
RULES = REPO / "deploy" / "prometheus" / "creditrisk-rules.yml"


def installed() -> bool:
    return shutil.which(PROMETHEUS) is not None and shutil.which(PUSHGATEWAY) is not None


def ray_relabel() -> list[dict[str, Any]]:
    """The metric relabelling of deploy/prometheus/scrape.yml: Ray's prefix off our own series."""
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "scrape.yml").read_text())
    (ray_job,) = [job for job in scrape["scrape_configs"] if job["job_name"] == "ray"]
    return list(ray_job["metric_relabel_configs"])


def prometheus_config(ray_targets: list[str], pushgateway: str) -> dict[str, Any]:
    """Scrape the Ray metrics agents and the pushgateway; evaluate the project's alert rules."""
    every = f"{SCRAPE_INTERVAL_S}s"
    return {"global": {"scrape_interval": every, "evaluation_interval": every},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": "ray", "static_configs": [{"targets": ray_targets}],
                 "metric_relabel_configs": ray_relabel()},
                {"job_name": "pushgateway", "honor_labels": True,  # keep job="creditrisk_loop" as pushed
                 "static_configs": [{"targets": [pushgateway.removeprefix("http://")]}]}]}


def spawn_pushgateway(port: int, log: Path) -> Service:
    cmd = [shutil.which(PUSHGATEWAY) or PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"]
    proc = _spawn(cmd, dict(os.environ), log)  # the environment marks it as this demo's or rehearsal's
    return Service("pushgateway", f"http://127.0.0.1:{port}", proc, log, "/-/ready", signal.SIGTERM)


def spawn_prometheus(folder: Path, port: int, ray_targets: list[str], pushgateway: str) -> Service:
    """Prometheus on 127.0.0.1:`port`, its data and config in `folder` (deleted with it)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ray_targets, pushgateway), sort_keys=False))
    cmd = [shutil.which(PROMETHEUS) or PROMETHEUS, f"--config.file={config}",
           f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={folder / 'data'}"]
    log = folder / "prometheus.log"
    proc = _spawn(cmd, dict(os.environ), log)
    return Service("prometheus", f"http://127.0.0.1:{port}", proc, log, "/-/ready", signal.SIGTERM)


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector (`[]` when it has no series)."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our own loopback Prometheus
        body = json.loads(answer.read())
    return list(body["data"]["result"])


def value(prometheus: str, promql: str) -> float | None:
    """The single value of an instant query, or None without a series."""
    result = query(prometheus, promql)
    return float(result[0]["value"][1]) if result else None


def firing(prometheus: str) -> list[dict[str, str]]:
    """Labels of every alert firing now."""
    with urllib.request.urlopen(f"{prometheus}/api/v1/alerts", timeout=10) as answer:  # noqa: S310
        alerts = json.loads(answer.read())["data"]["alerts"]
    return [a["labels"] for a in alerts if a["state"] == "firing"]
