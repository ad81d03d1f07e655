"""Which local service owns a loopback port: a claim held for the service's whole life."""
from __future__ import annotations

import tempfile
from pathlib import Path

from serving.flocks import try_flock


class PortTaken(ValueError):
    """Another local service of this machine is starting or serving on the port."""


def claim_port(port: int) -> int:
    """This machine's claim on 127.0.0.1:`port` for one local service: an flock the kernel drops at death.

    Why: a listener already there is seen by `creditrisk serve`'s check, but Ray takes ~20 s to
    bind, and two services starting within that window both passed it; HAProxy binds with
    SO_REUSEPORT, so the bind refuses nothing, and the second service died later with a Ray
    traceback (or, where its start succeeds, would share the port's traffic).
    """
    path = Path(tempfile.gettempdir()) / f"creditrisk-serve-127.0.0.1-{port}.lock"
    fd = try_flock(path, create=True, mode=0o644)
    if fd is None:
        raise PortTaken(f"port {port} on 127.0.0.1 is taken by another creditrisk service on this machine, "
                        f"starting or serving (lock {path}); choose another with --port")
    return fd
