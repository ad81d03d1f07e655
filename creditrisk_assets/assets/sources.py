"""What the graph reads but does not make: the request log and the base training data."""

import dagster as dg

from creditrisk_assets.groups import SOURCES_GROUP

request_log = dg.AssetSpec(
    "request_log", group_name=SOURCES_GROUP,
    description="Every answered /predict, written by the serving replicas, with the outcomes reported later "
                "(the RequestStore: Parquet under CREDITRISK_HOME locally, BigQuery in production).")

base_training_data = dg.AssetSpec(
    "base_training_data", group_name=SOURCES_GROUP, kinds={"csv"},
    description="The base training data: the CSV in CREDITRISK_DATA, else the seeded synthetic generator.")
