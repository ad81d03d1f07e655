"""The core of creditrisk: every rule of the loop, with no Dagster, no Ray and no process of its own.

Feature packages, each importing only those before it (`tests/unit/test_structure.py` holds the
order): `applicants`, `model`, `store`, `registry`, `training`, `model_card`, `monitoring`. Top
level: `settings` (the environment, read lazily), `alerts` (the alert sink), `wiring` (the one
composition root) and `pyfunc` (the wrapper's old path, for versions registered before the
packages). A threshold is the default of the rule object that applies it, with its measurement.
"""
