"""Loading a model version into a replica: download, validate, warm up, or leave nothing behind.

A version is served only after it passed the validation gate (`creditrisk.registry.validation`) on this
replica, with the files it will score from, and, when change control recorded one, only if those files
have the digest it recorded (`serving.audited`). A version that fails to load or validate is not
downloaded again at every reload check: it is retried after one reload interval, then two, four,
... at most `MAX_RELOAD_BACKOFF_S` apart, and its temp folder is removed at once.

Each replica's versions live in its own `creditrisk-serving-*` work folder, removed at close. A
killed replica cannot remove it, so the folder holds an `owner.lock` that its replica keeps
flock-ed: the kernel releases it at the owner's death however it dies, and the next replica to
start removes every such folder whose lock it can take (as the write-ahead log tells dead owners).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from creditrisk.registry.client import LoadedModel, Registry
from creditrisk.registry.validation import validate
from serving.config import MAX_RELOAD_BACKOFF_S
from serving.flocks import try_flock
from serving.health import now_iso

WORKDIR_PREFIX = "creditrisk-serving-"
_OWNER = "owner.lock"


def remove_dead_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the work folders of replicas that died without closing (their owner's lock is free)."""
    removed: list[Path] = []
    for folder in sorted(Path(root or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*")):
        try:
            fd = try_flock(folder / _OWNER)
        except OSError:  # an unreadable lock: never guess its owner is dead
            continue
        if fd is None:  # its replica is alive, or no lock (yet, or made before locks existed)
            continue
        os.close(fd)  # closing drops the lock: the folder goes next anyway
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _claim(folder: Path) -> int:
    """Lock `folder` for this process: the lock file appears under its name already locked."""
    staged = folder / f".{_OWNER}"
    fd = os.open(staged, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file: nobody else holds it
    os.rename(staged, folder / _OWNER)  # the lock follows the file
    return fd


class LoadFailed(RuntimeError):
    """A version could not be loaded or failed validation; the message says which and why."""


@dataclass(frozen=True)
class ModelState:
    """A loaded, validated, warmed-up version and the folder its files live in."""

    loaded: LoadedModel
    loaded_at: str
    folder: Path
    digest: str | None = None  # `artifact_digest` of the files it scores from


class VersionLoader:
    """Loads versions under one work folder and remembers the ones that failed (with back-off)."""

    def __init__(self, registry: Callable[[], Registry], warm_up: Callable[[LoadedModel], object]) -> None:
        self._registry = registry
        self._warm_up = warm_up
        remove_dead_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        self._owner_fd: int | None = _claim(self.workdir)
        self._failures: dict[str, tuple[int, float]] = {}  # version -> (attempts, retry after, monotonic)

    def load(self, version: str, digest: str | None = None) -> ModelState:
        """Download, validate (and compare with `digest`, if given) and warm up `version`; on any failure
        remove its files and raise LoadFailed."""
        folder = Path(tempfile.mkdtemp(prefix=f"v{version}-", dir=self.workdir))
        try:
            registry = self._registry()
            loaded = registry.load(version, dst=folder)
            check = validate(version, loaded.model, loaded.files(), registry.version(version).tags)
            if not check.passed:
                raise LoadFailed(f"version {version} failed validation: {check.summary()}")
            if digest is not None and check.digest != digest:
                raise LoadFailed(f"version {version}'s files are not the ones change control crowned "
                                 f"(digest {str(check.digest)[:12]}, the audit event recorded {digest[:12]})")
            self._warm_up(loaded)  # the first predict allocates
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, LoadFailed):
                raise
            raise LoadFailed(f"loading version {version} failed: {type(exc).__name__}: {exc}") from exc
        self._failures.pop(version, None)
        return ModelState(loaded, now_iso(), folder, check.digest)

    def may_try(self, version: str) -> bool:
        """False while `version` is backing off after a failure."""
        failure = self._failures.get(version)
        return failure is None or time.monotonic() >= failure[1]

    def failed(self, version: str, interval_s: float) -> None:
        """Record a failure of `version`: the next try waits interval_s * 2**(attempts-1), capped."""
        attempts = self._failures.get(version, (0, 0.0))[0] + 1
        wait = min(interval_s * 2 ** (attempts - 1), MAX_RELOAD_BACKOFF_S)
        self._failures[version] = (attempts, time.monotonic() + wait)

    def close(self) -> None:
        """Remove the work folder, then release it (a starting replica never sees it half-removed)."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None
