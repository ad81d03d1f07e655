"""Start bqemulator 1.4.0 on loopback, offline. Runs in .venv-bqemu, never in the project venv.

Usage: .venv-bqemu/bin/python tests/bqemu/launcher.py --port PORT

Two adjustments make the stock emulator usable without internet (see shared notes, "BigQuery on
loopback"):
1. At start-up it INSTALLs DuckDB's `spatial` extension (a download) and treats a failure as fatal,
   although only GEOGRAPHY needs it; the store uses none. We make that step best-effort, and turn
   off the equally-downloaded `avro` extension with BQEMU_ENABLE_FORMAT_EXTENSIONS=false.
2. google-cloud-bigquery sends the media part of a multipart load (`load_table_from_*` under
   5 MiB) as `*/*`, which real BigQuery accepts and the emulator's whitelist refuses with a 400.
   We add `*/*` to the whitelist.
"""
from __future__ import annotations

import argparse
import os
import sys


def _patch() -> None:
    from bqemulator.api.routes import upload
    from bqemulator.storage import engine

    if "*/*" not in upload._PERMITTED_MEDIA_CONTENT_TYPES:
        # The check reads the module global at call time, so rebinding it is enough.
        upload._PERMITTED_MEDIA_CONTENT_TYPES = (*upload._PERMITTED_MEDIA_CONTENT_TYPES, "*/*")

    original = engine.DuckDBEngine._load_spatial

    def _load_spatial_best_effort(self: engine.DuckDBEngine) -> None:
        try:
            original(self)
        except Exception as exc:  # noqa: BLE001 - offline: GEOGRAPHY unsupported, the rest works
            print(f"bqemu launcher: spatial extension unavailable, continuing: {exc}", file=sys.stderr)

    engine.DuckDBEngine._load_spatial = _load_spatial_best_effort  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="REST port on 127.0.0.1")
    parser.add_argument("--grpc-port", type=int, default=0, help="gRPC port (0: any free port)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    os.environ["BQEMU_ENABLE_FORMAT_EXTENSIONS"] = "false"
    _patch()

    from bqemulator.cli import main as bqemu_main

    # click command; standalone_mode=False would swallow SIGTERM exit codes, keep the default.
    bqemu_main([
        "start",
        "--rest-host", "127.0.0.1", "--rest-port", str(args.port),
        "--grpc-host", "127.0.0.1", "--grpc-port", str(args.grpc_port),
        "--ephemeral", "--log-level", args.log_level,
    ])


if __name__ == "__main__":
    main()
