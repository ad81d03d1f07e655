"""Names of the Dagster graph's asset groups, and of the jobs and schedules selected by them."""

# Asset groups; the jobs select by group
MONITORING_GROUP = "monitoring"
RETRAINING_GROUP = "retraining"
SOURCES_GROUP = "sources"

# Store upkeep: the local store's day folders merged into one file each, daily at 01:00 UTC, once
# the previous day has closed and an hour before the weekly drift check (Monday 02:00) reads them.
COMPACTION_JOB = "store_compaction_job"
COMPACTION_CRON = "0 1 * * *"

# Retention (12 CFR 1002.12(b)): rows older than CREDITRISK_RETENTION_MONTHS deleted, monthly at 03:00
# UTC on the 1st: after that night's compaction (01:00), and after a Monday's drift check (02:00).
RETENTION_JOB = "store_retention_job"
RETENTION_CRON = "0 3 1 * *"
