"""Making a model and judging it against the champion.

Modules: `run` (one MLflow training run, registered), `holdout` (what a run records for its card),
`plots` (ROC and calibration figures), `lineage` (training data by reference), `retraining` (train a
candidate, evaluate a challenger), `promotion` (the evidence rule's bootstrap), `swaps` (whose decisions a
challenger would change, on the logged applicants), `swap_groups` (approval by group before and
after; fair-lending regressions), `swap_table` (the analysis as people read it, from its record).
"""
