"""AWS Backup (the data-tier issue builds the component)."""

from __future__ import annotations

from pydantic import Field

from components.common import ConfigModel


class BackupConfig(ConfigModel):
    retention_days: int = Field(default=30, ge=1, le=36500)
    copy_to_dr: bool = True
    vault_lock: bool = True
