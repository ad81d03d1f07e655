#!/usr/bin/env bash
# Creates the BigQuery emulator's own venv at $REPO/.venv-bqemu (idempotent: a second run that
# finds the requirements satisfied does no network work). Usage: bash tests/bqemu/setup.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv-bqemu"
REQ="$HERE/requirements.txt"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
# Already satisfied? Importing the entry point and checking the pinned version is enough.
if "$VENV/bin/python" - "$REQ" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
import numpy  # noqa: F401  (undeclared dependency)
import bqemulator.cli  # noqa: F401
want = [l.split("==")[1].strip() for l in open(sys.argv[1]) if l.startswith("bqemulator==")][0]
sys.exit(0 if version("bqemulator") == want else 1)
PY
    echo "bqemu venv ready: $VENV"
    exit 0
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
"$VENV/bin/python" -c "import numpy, bqemulator.cli" 
echo "bqemu venv installed: $VENV"
