"""The pods the manifests run, the Dagster run launcher's Job included, shared by the deploy tests."""
from __future__ import annotations

from typing import Any

import pytest
from k8s_model import DAGSTER_IMAGE, Workload, run_job, workloads


@pytest.fixture(scope="session")
def run_pod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_job(tmp_path_factory.mktemp("kube"), DAGSTER_IMAGE)


@pytest.fixture(scope="session")
def pods(run_pod: dict[str, Any]) -> list[Workload]:
    return workloads(run_pod)
