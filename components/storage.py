"""S3 buckets (the data-tier issue builds the component)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.common import ConfigModel
from components.problems import ProblemCollector


class LifecycleConfig(ConfigModel):
    infrequent_access_after_days: int = Field(default=30, ge=30, le=3650)
    glacier_after_days: int = Field(default=90, ge=31, le=3650)
    noncurrent_expire_after_days: int = Field(default=365, ge=1, le=3650)
    abort_multipart_after_days: int = Field(default=7, ge=1, le=365)

    @model_validator(mode="after")
    def _order(self) -> LifecycleConfig:
        problems = ProblemCollector()
        if self.glacier_after_days <= self.infrequent_access_after_days:
            problems.add("glacierAfterDays", self.glacier_after_days,
                         f"must be later than infrequentAccessAfterDays ({self.infrequent_access_after_days})")
        problems.raise_if_any()
        return self


class ObjectLockConfig(ConfigModel):
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    days: int = Field(default=365, ge=1, le=36500)


class StorageConfig(ConfigModel):
    lifecycle: LifecycleConfig = LifecycleConfig()
    replicate_to_dr: bool = True
    audit_object_lock: ObjectLockConfig = ObjectLockConfig()
