"""The Railway-like app service on EKS (the compute-tier issue builds the component)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.common import ConfigModel
from components.problems import ProblemCollector


class AppConfig(ConfigModel):
    image: str
    cpu: str = Field(default="500m", pattern=r"^\d+(m)?$")
    memory: str = Field(default="512Mi", pattern=r"^\d+(Mi|Gi)$")
    min_replicas: int = Field(default=2, ge=1, le=100)
    max_replicas: int = Field(default=4, ge=1, le=200)
    node_pool: Literal["app", "worker"] = "app"

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        name, _, tag = value.rpartition(":")
        if "@sha256:" in value:
            return value
        if not name or "/" in tag or tag in ("", "latest"):
            raise ValueError("must be pinned to a tag other than 'latest' or to a digest (repo:1.2.3 or repo@sha256:...)")
        return value

    @model_validator(mode="after")
    def _replicas(self) -> AppConfig:
        problems = ProblemCollector()
        if self.min_replicas > self.max_replicas:
            problems.add("minReplicas", self.min_replicas, f"must be at most maxReplicas ({self.max_replicas})")
        problems.raise_if_any()
        return self


class AppsConfig(ConfigModel):
    nlfhir: AppConfig
    prm_api: AppConfig
    prm_worker: AppConfig
