"""Test helpers for registries: change control built as the product builds it, tiny versions through
its gates, crowning a version, and two promoters racing for the lock."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from pathlib import Path
from typing import Any

from creditrisk import wiring
from creditrisk.model.credit_model import TrainConfig
from creditrisk.registry.changes import ModelChanges, MoveRefused
from creditrisk.registry.locks import file_lock
from creditrisk.registry.policy import ChangePolicy
from creditrisk.settings import DEPLOYMENT_VARIABLES, get_settings
from creditrisk.training.run import train_and_register

# Versions are tiny models (5 trees): each costs about a second to log and register.
TINY = TrainConfig(num_rounds=5, max_depth=2)
# They reach a holdout AUC of about 0.84, under the production floor: tests of the moves lower the
# deployment's floor to let them through (the floor itself is judged on real candidates in
# tests/assets/test_retrain.py). Set with `monkeypatch.setenv`, as a deployment sets it.
TINY_FLOOR = {"CREDITRISK_MIN_CANDIDATE_AUC": "0.6", "CREDITRISK_MAX_CANDIDATE_BRIER": "0.25"}


# A recorded swap analysis no guard routes to a person: 4% of applicants swap, no age band's
# four-fifths ratio moves below 0.8, the swap-ins' assumed risk is under the swap-outs' realized rate.
CLEAR_SWAPS = {
    "rows": 1000, "counts": {"stay_approved": 760, "stay_denied": 200, "swap_in": 20, "swap_out": 20},
    "swap_in_risk": [0.30, 0.34], "swap_out_default_rate": 0.45, "swap_out_labelled": 12,
    "groups": [{"attribute": "age band", "group": "18-24", "rows": 300, "approval_before": 0.76,
                "approval_after": 0.75, "ratio_before": 0.95, "ratio_after": 0.94, "noise": False},
               {"attribute": "age band", "group": "25-34", "rows": 400, "approval_before": 0.80,
                "approval_after": 0.80, "ratio_before": 1.0, "ratio_after": 1.0, "noise": False},
               {"attribute": "home ownership", "group": "RENT", "rows": 500, "approval_before": 0.70,
                "approval_after": 0.60, "ratio_before": 0.85, "ratio_after": 0.70, "noise": False}],
    "guards": []}
# The figures `evaluate` records for a challenger that clearly won (what the evidence rule and the
# swap rule judge): for tests of the moves themselves; `evaluate` and its bootstrap are tested on
# real rows elsewhere.
CLEAR_WIN = {"n_rows": 600, "n_defaults": 90, "single_class_resamples": 0, "gain_ci_low": 0.05,
             "gain_ci_high": 0.09, "brier_increase_ci_high": -0.01, "recall_change_ci_low": 0.0,
             "swaps": CLEAR_SWAPS}


def changes_for(tracking_uri: str, lock_uri: str | None = None, **policy: str) -> ModelChanges:
    """Change control on a registry, from the settings as in production (lock beside a SQLite db, or
    the Postgres advisory lock of `lock_uri`); the change policy is the environment's, then `policy`'s."""
    env = {**{k: os.environ[k] for k in DEPLOYMENT_VARIABLES if k in os.environ},
           "CREDITRISK_MLFLOW_URI": tracking_uri, **({"CREDITRISK_LOCK_URI": lock_uri} if lock_uri else {}),
           **policy}
    return wiring.make_changes(get_settings(env))


def quiet_changes(db: Path) -> ModelChanges:
    """Change control on the SQLite registry `db` without the model card issued after each decision
    (about half a second each; tests of the moves themselves do not look at cards)."""
    registry = changes_for(f"sqlite:///{db}").registry
    policy = ChangePolicy.from_settings(get_settings(TINY_FLOOR))
    return ModelChanges(registry, lambda: file_lock(db.parent / "registry.lock"), policy)


def admit(changes: ModelChanges, version: str, actor: str = "dagster") -> None:
    """Make a registered `version` the challenger on the holdout metrics its training run logged."""
    run = changes.registry.client.get_run(changes.registry.version(version).run_id)
    changes.admit_challenger(version, actor=actor, floor_metrics=dict(run.data.metrics), age_rule=[])


def copy_registry(db: Path, folder: Path) -> ModelChanges:
    """Change control (no cards) on a copy of the registry database `db`: its versions' artifact
    files stay where they are, shared with the original (a test that alters one puts it back)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, folder / "mlflow.db")
    return quiet_changes(folder / "mlflow.db")


def crown(changes: ModelChanges, version: str, reason: str = "test bootstrap") -> None:
    """Make a freshly registered `version` the champion, as `creditrisk bootstrap` does."""
    changes.bootstrap(version, actor="tests", reason=reason, forced=changes.champion() is not None)


def artifact_folder(changes: ModelChanges, version: str) -> Path:
    """Where a version's model files live in a local artifact store (to damage them in tests)."""
    uri = changes.registry.client.get_model_version_download_uri(changes.registry.model_name, version)
    return Path(uri.removeprefix("file://")) / "artifacts" / "credit_model"


def new_version(changes: ModelChanges, data: tuple, name: str = "test") -> str:
    return train_and_register(changes.registry, *data, run_name=name, source="test", config=TINY).version


def candidate(changes: ModelChanges, data: tuple) -> str:
    """A version through the candidate gates: registered, then admitted as challenger on its own metrics."""
    result = train_and_register(changes.registry, *data, run_name="candidate", source="test", config=TINY)
    changes.register_candidate(result.version, actor="dagster", reason="retrained")
    changes.admit_challenger(result.version, actor="dagster", floor_metrics=result.metrics, age_rule=[])
    return result.version


def aliases(changes: ModelChanges) -> tuple[str | None, str | None, str | None]:
    return changes.champion(), changes.challenger(), changes.previous()


def _race(uri: str, version: str, start: Any, out: Any, lock_uri: str | None = None) -> None:
    """One promoter process: waits for the start signal, then promotes `version` over champion 1."""
    c = changes_for(uri, lock_uri)
    start.wait()
    try:
        c.promote(version, expected_champion="1", actor=f"promoter of {version}", reason="race",
                  evidence=CLEAR_WIN)
        out.put(("promoted", version, time.time()))
    except MoveRefused as exc:
        out.put(("refused", str(exc), time.time()))


def race_two_promoters(changes: ModelChanges, data: tuple, lock_uri: str | None = None) -> None:
    """Both read champion 1 and each names its challenger; under the lock only the first can move."""
    v2 = candidate(changes, data)
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    uri = changes.registry.tracking_uri
    procs = [ctx.Process(target=_race, args=(uri, v2, start, out, lock_uri)) for _ in range(2)]
    for p in procs:
        p.start()
    with changes.lock():  # both promoters start while the lock is held: neither may move before it is free
        start.set()
        time.sleep(8)  # long enough for both to have validated v2 and to be waiting on the lock
        released = time.time()
    results = sorted(out.get(timeout=120) for _ in procs)
    assert all(r[2] >= released for r in results), "a promoter moved while another held the lock"
    for p in procs:
        p.join(timeout=60)
    assert [r[0] for r in results] == ["promoted", "refused"]
    assert "refused: the aliases moved" in results[1][1]
    assert aliases(changes) == (v2, None, "1")
    actions = [e["action"] for e in changes.trail.events()]
    assert actions.count("promote") == 1 and actions[-2:] in (["promote", "refuse"],)
    assert changes.trail.verify() == []
