"""MSK Kafka (the data-tier issue builds the component)."""

from __future__ import annotations

from pydantic import Field, model_validator

from components.common import ConfigModel
from components.problems import ProblemCollector


class StreamingConfig(ConfigModel):
    kafka_version: str = "3.6.0"
    broker_count: int = Field(default=3, ge=2, le=30)
    instance_type: str = Field(default="kafka.m5.large", pattern=r"^kafka\.[a-z0-9]+\.[a-z0-9]+$")
    replication_factor: int = Field(default=3, ge=1, le=5)
    min_insync_replicas: int = Field(default=2, ge=1, le=4)
    ebs_volume_gib: int = Field(default=100, ge=1, le=16384)

    @model_validator(mode="after")
    def _replication(self) -> StreamingConfig:
        problems = ProblemCollector()
        if self.replication_factor > self.broker_count:
            problems.add("replicationFactor", self.replication_factor,
                         f"must be at most brokerCount ({self.broker_count})")
        if self.min_insync_replicas >= self.replication_factor and self.replication_factor > 1:
            problems.add("minInsyncReplicas", self.min_insync_replicas,
                         f"must be below replicationFactor ({self.replication_factor}) so one broker can fail")
        problems.raise_if_any()
        return self
