"""Watching the champion in service: drift, concept drift, estimated and realized performance.

Modules: `report` (one week's report), `windows` (week arithmetic), `drift` (Evidently), `drift_rule`
(the model-aware drift rule), `drift_twin` (its scipy twin, for simulations), `concept` (concept
drift), `performance` (the label-free estimate), `episodes` (drift episodes, when to retrain, the
reference after a change), `realized` (the realized-performance alert), `quality` (a week's data
quality: nulls and rule breaches), `exported` (the loop's figures pushed for Prometheus).
"""
