"""A throwaway PostgreSQL cluster for the tests: the rehearsal's (`creditrisk_app/rehearsal/parts.py`).

Debian's package, installed by `tests/postgres/setup.sh`; a missing install fails the test.
"""
from __future__ import annotations

import pytest

from creditrisk_app.rehearsal import parts


class PgCluster(parts.PgCluster):
    """The rehearsal's cluster; a missing install fails the test instead of raising."""

    def start(self) -> PgCluster:
        try:
            super().start()
        except parts.PartMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        return self
