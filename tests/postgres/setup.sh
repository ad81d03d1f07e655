#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the tests (idempotent). The tests start their own
# throwaway cluster on a free loopback port as the unprivileged `postgres` user (tests/pg.py); the
# package's own cluster is never started.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "postgresql already installed: $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
echo "postgresql installed: $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
