"""Typed arguments of the serving application: what `app_builder` and `serve build` accept.

`ServiceArgs` is fixed when the application is deployed (changing it redeploys the replicas);
`PredictorConfig` is the deployment's `user_config`, applied in place by `reconfigure()` on
every running replica (reload cadence, alias or pinned version, batching) without a restart.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from creditrisk.registry.states import Alias

# A replica retries a version that failed to load or validate after this many reload intervals,
# doubling each time, at most MAX_RELOAD_BACKOFF_S apart (no re-download every interval).
MAX_RELOAD_BACKOFF_S = 300.0


OUTCOMES_TOKEN_ENV = "CREDITRISK_OUTCOMES_TOKEN"
DEPLOYMENT_NAME = "CreditRiskService"
APP_NAME = "creditrisk"


class PredictorConfig(BaseModel):
    """`user_config`: changed in place on live replicas through `reconfigure()`."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(default=Alias.CHAMPION.value, description="registry alias the replicas follow")
    pinned_version: str | None = Field(default=None, pattern=r"^\d+$",
                                       description="serve this version and ignore the alias (emergency pin)")
    reload_interval_s: float = Field(default=10.0, gt=0, le=3600,
                                     description="how often each replica checks where the alias points")
    # Batching: a batch waits for nothing (0 s); under load the queue fills while the previous
    # batch is scored, so batches grow by themselves without adding latency at low traffic.
    max_batch_size: int = Field(default=16, ge=1, le=256)
    batch_wait_timeout_s: float = Field(default=0.0, ge=0, le=1)


class RateLimit(BaseModel):
    """Per-client token bucket on POST /predict, kept by each replica (N replicas: about N times it)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(default=None, description="default: on with CREDITRISK_ENV=production, "
                                 "off locally (the demo and the benchmarks send from one address)")
    # An applicant submits a form a few times a minute; a branch or a NAT shares one address.
    requests_per_minute: float = Field(default=30.0, gt=0, le=10_000_000, description="sustained, per client")
    burst: int = Field(default=10, ge=1, le=10_000_000, description="requests a client may send at once")
    trusted_proxies: list[str] = Field(default=["127.0.0.1/32"], description="networks whose "
                                       "X-Forwarded-For is believed (Ray's HAProxy here, the ingress "
                                       "controller in a cluster); any other peer is the client itself")
    exempt: list[str] = Field(default=[], description="client networks never limited (the bank's own "
                              "systems)")
    # A bucket idle for burst / rate seconds is full again and is dropped for free; beyond this many
    # clients at once the least recently seen are dropped early (they start again with a full burst).
    max_clients: int = Field(default=50_000, ge=1, le=10_000_000, description="buckets a replica keeps")

    @field_validator("trusted_proxies", "exempt")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in value]


class ServiceArgs(BaseModel):
    """Builder arguments (`serve run serving.app:app_builder key=value` or `args:` in a config)."""

    model_config = ConfigDict(extra="forbid")

    mlflow_uri: str | None = Field(default=None,
                                   description="registry URI; default from CREDITRISK_MLFLOW_URI/HOME")
    store_dir: str | None = Field(default=None,
                                  description="local request-store folder; default from settings")
    predictor: PredictorConfig = Field(default_factory=PredictorConfig)
    # Autoscaling: at least one replica so the portal answers without a cold start; production runs
    # two, so a replica's death costs only the requests in flight on it.
    min_replicas: int = Field(default=1, ge=1, le=64)
    max_replicas: int = Field(default=2, ge=1, le=64)
    target_ongoing_requests: float = Field(default=8.0, gt=0)
    upscale_delay_s: float = Field(default=5.0, ge=0)
    downscale_delay_s: float = Field(default=30.0, ge=0)
    max_ongoing_requests: int = Field(default=64, ge=1)
    replica_num_cpus: float = Field(default=0.5, gt=0,
                                    description="Ray CPU share per replica (scheduling only)")
    health_check_period_s: float = Field(default=5.0, gt=0,
                                         description="also the cadence of the exported gauges")
    metrics: bool = Field(default=True, description="export the replica's Prometheus series through Ray "
                          "(serving.metrics); off only to measure their cost (bench/toggle_bench.py)")
    # Inference log: a write-ahead log on the replica's disk, shipped to the request store
    flush_interval_s: float = Field(default=1.0, gt=0, le=60,
                                    description="how often logged rows are shipped to the store")
    flush_max_rows: int = Field(default=1000, ge=1,
                                description="ship early when this many rows are waiting")
    wal_dir: str | None = Field(default=None, description="write-ahead log folder; default "
                                "CREDITRISK_HOME/wal (a disk that outlives the replica: a volume in deploy/)")
    wal_fsync: bool | None = Field(default=None, description="fsync each group commit before answering "
                                   "(survives the machine, not only the process); default: on in production")
    log_budget_bytes: int = Field(default=256 * 2**20, ge=4096,
                                  description="disk the unshipped log may use while the store is down")
    # A row normally waits about flush_interval_s; after a node's death up to ~2 min (Ray's 15-30 s,
    # NFS's ~90 s lease, a pass); beyond 5 min it is stranded (no live adopter, a stuck shipper).
    log_stale_after_s: float = Field(default=300.0, ge=10, description="an unshipped row older than "
                                     "this shows in /readyz (degraded) and alerts once")
    when_log_full: Literal["queue", "refuse"] = Field(
        default="refuse", description="beyond the budget: `refuse` answers 503 (every decision is logged "
        "or not made), `queue` keeps answering and alerts")
    # HTTP
    max_body_bytes: int = Field(default=16_384, ge=256, description="larger request bodies get 413")
    max_batch_body_bytes: int = Field(default=1_048_576, ge=256,
                                      description="body limit of POST /outcomes/batch")
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    allow_client_time: bool = Field(default=False,
                                    description="accept X-Request-Time (simulated time for demos)")
    outcomes_token_env: str = Field(default=OUTCOMES_TOKEN_ENV,
                                    description="env var holding the /outcomes token")
    route_prefix: str = "/"

    @model_validator(mode="after")
    def _replica_range(self) -> ServiceArgs:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must be <= max_replicas "
                             f"({self.max_replicas})")
        return self

    def autoscaling_config(self) -> dict[str, Any]:
        low = self.min_replicas
        return {"min_replicas": low, "initial_replicas": low, "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
                "upscale_delay_s": self.upscale_delay_s, "downscale_delay_s": self.downscale_delay_s}
