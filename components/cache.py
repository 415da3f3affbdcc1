"""ElastiCache Redis (the data-tier issue builds the component)."""

from __future__ import annotations

from pydantic import Field

from components.common import ConfigModel


class CacheConfig(ConfigModel):
    node_type: str = Field(pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    engine_version: str = "7.1"
    cluster_mode: bool = True
    shards: int = Field(default=3, ge=1, le=500)
    replicas_per_shard: int = Field(default=1, ge=0, le=5)
    multi_az: bool = True
    snapshot_retention_days: int = Field(default=7, ge=0, le=35)
