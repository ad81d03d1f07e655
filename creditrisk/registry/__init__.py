"""Which model decides loans, and the record of why: the MLflow registry under change control.

Modules: `client` (the registry: versions, aliases, artifacts), `states` (the names of versions'
states, of aliases and of evaluation outcomes), `changes` (the only moves between states), `moves`
(their lock, reads and recording), `policy` (what the deployment requires of a version before it
serves, applied by `changes`), `swap_rule` (the policy's swap guards, which make a change wait for a
person), `audit` (the hash-chained trail), `locks` (the lock every move takes), `validation` (the
gate every version passes before it may serve).
"""
