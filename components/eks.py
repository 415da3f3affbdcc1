"""EKS: the cluster, its node pools and add-ons (the compute-tier issue builds the component)."""

from __future__ import annotations

from pydantic import Field, model_validator

from components.common import ConfigModel
from components.problems import ProblemCollector


class NodePoolConfig(ConfigModel):
    instance_types: tuple[str, ...] = Field(min_length=1)
    desired: int = Field(ge=0, le=100)
    min: int = Field(ge=0, le=100)
    max: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _scaling(self) -> NodePoolConfig:
        problems = ProblemCollector()
        if self.min > self.desired:
            problems.add("min", self.min, f"must be at most desired ({self.desired})")
        if self.desired > self.max:
            problems.add("desired", self.desired, f"must be at most max ({self.max})")
        problems.raise_if_any()
        return self


class NodePoolsConfig(ConfigModel):
    app: NodePoolConfig
    worker: NodePoolConfig


class EksConfig(ConfigModel):
    version: str = Field(pattern=r"^1\.(2[89]|3[0-9])$")
    endpoint_public_access: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    node_pools: NodePoolsConfig
