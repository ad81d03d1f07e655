"""Who is alive, told by the kernel: an exclusive `flock` that its holder keeps while it lives.

The kernel releases a flock however its holder dies (exit, SIGKILL, OOM), so a lock that can be
taken means its owner is gone: no heartbeat, no pid (which may be reused), no clock. The write-ahead
log's owners, replicas' work folders and local services' ports all use it.

A lock file is only ever seen locked while its owner lives: a new one is created and locked under a
private name, then linked into place (no moment where another process could take it first), and a
lock taken on a name is kept only if the name still leads to the locked file (whoever held it before
may have removed it in between).
"""
from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


def try_flock(path: Path, *, create: bool = False, mode: int = 0o600) -> int | None:
    """A descriptor of `path` holding its exclusive flock, or None when a live process holds it (or,
    without `create`, when there is no such file: nothing to tell). Closing the descriptor releases it."""
    for _ in range(3):  # the file may be removed between the calls below by whoever held it
        if create:
            fd = _create_locked(path, mode)
            if fd is not None:
                return fd
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            if create:
                continue
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _still_named(fd, path):
            return fd
        os.close(fd)  # removed (or replaced) by its previous holder after we opened it
        if not create:
            return None
    raise FileNotFoundError(f"{path}: removed each time it was locked")


def _create_locked(path: Path, mode: int) -> int | None:
    """A new `path`, locked before it appears under its name; None when `path` exists already."""
    private = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(private, os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows the private name
        os.link(private, path)
    except FileExistsError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        private.unlink(missing_ok=True)
    return fd


def _still_named(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open on `fd`."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
