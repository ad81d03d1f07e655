"""Every threshold, name and alias of the product, in one place.

Changing a number here changes it for training, serving, the asset graph and the tests alike.
"""
from __future__ import annotations

from datetime import UTC, datetime

# Asset groups of the Dagster graph; the jobs select by group
MONITORING_GROUP = "monitoring"
RETRAINING_GROUP = "retraining"
SOURCES_GROUP = "sources"

# Store upkeep: the local store's day folders merged into one file each, daily at 01:00 UTC, once
# the previous day has closed and an hour before the weekly drift check (Monday 02:00) reads them.
COMPACTION_JOB = "store_compaction_job"
COMPACTION_CRON = "0 1 * * *"

# Model registry
MODEL_NAME = "credit-risk"
CHAMPION_ALIAS = "champion"  # the version that serves
CHALLENGER_ALIAS = "challenger"  # the candidate under evaluation, set only once it passed every gate
AWAITING_ALIAS = "awaiting"  # won its evaluation under the approval policy; waits for a person
PREVIOUS_ALIAS = "previous"  # the champion before the current one: the rollback target
# MLflow's tag limit on SQL backends (SQLite does not enforce it, Postgres does): an audit event fits
MAX_TAG_CHARS = 5000
EXPERIMENT_NAME = "credit-risk"

# Label and decision
LABEL = "loan_status"  # 1 = the loan defaulted
DECISION_THRESHOLD = 0.40  # probability of default at or above which we deny; see README "Decision threshold"
DECISION_APPROVED = "pre-approved"
DECISION_DENIED = "denied"

# Training
HOLDOUT_FRACTION = 0.30
RANDOM_SEED = 42

# Validation gate (creditrisk.validation): a fixed synthetic canary set every version must score
# as recorded at training; the tolerance allows float32 input rounding, nothing more.
CANARY_SEED = 20261127
CANARY_ROWS = 64
CANARY_TOLERANCE = 1e-6
# A replica retries a version that failed to load or validate after this many reload intervals,
# doubling each time, at most MAX_RELOAD_BACKOFF_S apart (no re-download every interval).
MAX_RELOAD_BACKOFF_S = 300.0

# Quality floor a candidate must meet on its holdout before it may be compared with the champion
QUALITY_FLOOR = {"roc_auc": 0.90, "brier": 0.10}

# Drift monitoring (the original design: the last week against the previous 3 months)
REFERENCE_WEEKS = 13
MIN_WEEKLY_REQUESTS = 120
DRIFT_SHARE = 0.15  # dataset drift when >= 2 of the 11 columns drifted; see README "Drift rule"
MAX_NULL_RATE = 0.05

# Promotion (the original design: compare on the last 10 days of labelled requests)
EVALUATION_DAYS = 10
MIN_EVALUATION_ROWS = 200
MIN_AUC_GAIN = 0.0  # the bootstrap lower bound of the AUC gain must exceed this
BOOTSTRAP_SAMPLES = 500
BOOTSTRAP_CONFIDENCE = 0.95
# Non-inferiority on what decides loans, judged on the same rows and resamples as the AUC gain:
# the Brier score may not get worse by more than 0.005 (a tenth of the champion's ~0.05 on the real
# data) at the 95% upper bound, and default recall at each model's served threshold may not drop
# by more than 3 points at the 95% lower bound (the bootstrap spread of recall at 1,300 rows is
# about +-2 points, so a smaller margin would refuse equal models).
MAX_BRIER_INCREASE = 0.005
MAX_RECALL_DROP = 0.03

# Retraining: a labelled production row counts this many base rows, so recent traffic weighs more
# than the older base data set without discarding it.
PRODUCTION_WEIGHT = 3.0

# Realized-performance alert (concept drift): the served scores' AUC on this many recent weeks
MIN_REALIZED_AUC = 0.80
PERFORMANCE_WEEKS = 4

# Request store: timestamps it keeps. BigQuery's TIMESTAMP reaches 9999, but a request from before
# 1970 or after 2200 is a client's mistake (a simulated X-Request-Time typo), refused at the door.
STORE_TIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
