"""RDS PostgreSQL (the data-tier issue builds the component)."""

from __future__ import annotations

from pydantic import Field, model_validator

from components.common import ConfigModel
from components.problems import ProblemCollector


class DatabaseInstanceConfig(ConfigModel):
    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    engine_version: str = Field(default="16.4", pattern=r"^16\.\d+$")
    multi_az: bool = True
    read_replicas: int = Field(default=0, ge=0, le=5)
    allocated_storage_gib: int = Field(default=100, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(default=500, ge=20, le=65536)
    backup_retention_days: int = Field(default=30, ge=1, le=35)

    @model_validator(mode="after")
    def _storage(self) -> DatabaseInstanceConfig:
        problems = ProblemCollector()
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            problems.add("maxAllocatedStorageGib", self.max_allocated_storage_gib,
                         f"must be at least allocatedStorageGib ({self.allocated_storage_gib})")
        problems.raise_if_any()
        return self


class DatabasesConfig(ConfigModel):
    prm: DatabaseInstanceConfig
    nlfhir: DatabaseInstanceConfig
