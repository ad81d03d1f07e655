"""Which model decides loans, and the record of why: the MLflow registry under change control.

Modules: `client` (the registry: versions, aliases, artifacts), `changes` (a version's states and the
only moves between them), `audit` (the hash-chained trail), `locks` (the lock every move takes),
`validation` (the gate every version passes before it may serve).
"""
