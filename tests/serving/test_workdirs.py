"""A replica's work folder (its downloaded model versions): removed at close, and after a kill by the next."""
from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from creditrisk.registry.client import Registry
from serving.loading import VersionLoader


def work_folders(root: Path) -> list[Path]:
    return sorted(root.glob("creditrisk-serving-*"))


def killed_replica_leaves_its_work_folder(temp: Path) -> Path:
    """A process that makes a loader's work folder as a replica does, then is SIGKILLed."""
    script = textwrap.dedent(f"""
        import os, signal, tempfile
        tempfile.tempdir = {str(temp)!r}
        from serving.loading import VersionLoader
        loader = VersionLoader(lambda: None, lambda loaded: None)
        (loader.workdir / "v1-model").mkdir()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [left] = work_folders(temp)
    return left


def test_the_next_replica_removes_a_killed_ones_work_folder_and_keeps_a_live_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # a private temp dir: other runs share /tmp
    dead = killed_replica_leaves_its_work_folder(tmp_path)

    def no_registry() -> Registry:
        raise AssertionError("not used")

    live = VersionLoader(no_registry, lambda loaded: None)
    assert work_folders(tmp_path) == [live.workdir] and not dead.exists()
    another = VersionLoader(no_registry, lambda loaded: None)  # starts while `live` runs
    assert work_folders(tmp_path) == sorted([live.workdir, another.workdir])
    live.close()
    another.close()
    assert work_folders(tmp_path) == []
