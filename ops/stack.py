"""The stack's facts, read from ``Pulumi.<stack>.yaml`` without the Pulumi engine.

The stack file is read with :func:`offline.stackfile.load_stack_file` (the same loader the offline
preview uses) and validated with :func:`config.validate`, the same pydantic models the program uses;
``config.load()`` is not used because it reads ``pulumi.Config`` and so needs the Pulumi runtime.
The resource names below mirror ``__main__.py`` and the components (``care-<env>-prm``,
``care-<env>-backup-vault``...).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import PROJECT, ConfigError, StackConfig, validate
from offline.stackfile import ROOT, StackFileError, load_stack_file

#: The databases ``__main__.py`` creates, by the name the commands take (``--db``).
DATABASES: tuple[str, ...] = ("prm", "nlfhir")


class StackError(Exception):
    """The stack's settings could not be read: one line naming the file or key."""


@dataclass(frozen=True)
class Stack:
    name: str
    config: StackConfig

    @property
    def account_id(self) -> str:
        return self.config.environment.account_id

    @property
    def primary_region(self) -> str:
        return self.config.regions.primary

    @property
    def dr_region(self) -> str:
        return self.config.regions.dr

    @property
    def prefix(self) -> str:
        return f"care-{self.config.environment.name}"

    @property
    def tag_filters(self) -> list[dict[str, Any]]:
        """The standard tags that select the stack's resources (Resource Groups Tagging API form)."""
        tags = self.config.standard_tags
        return [{"Key": "Project", "Values": [tags["Project"]]},
                {"Key": "Environment", "Values": [tags["Environment"]]}]

    def database_identifier(self, db: str) -> str:
        return f"{self.prefix}-{db}"

    def database_major(self, db: str) -> str:
        """The configured PostgreSQL major version (``18``; ``18.1`` gives ``18``): drills compare by prefix."""
        return str(getattr(self.config.database, db).engine_version).split(".")[0]

    @property
    def vault_name(self) -> str:
        return f"{self.prefix}-backup-vault"

    @property
    def dr_vault_name(self) -> str:
        return f"{self.prefix}-backup-dr-vault"

    @property
    def redis_replication_group_id(self) -> str:
        return f"{self.prefix}-redis"

    def kms_alias(self, domain: str) -> str:
        """The alias of a domain's key (``components.encryption.KeyRing``); the DR key ring uses the same aliases."""
        return f"alias/{PROJECT}/{self.config.environment.name}/{domain}"


def load_stack(stack: str, root: Path = ROOT) -> Stack:
    """Read and validate ``Pulumi.<stack>.yaml``; raise :class:`StackError` with the problems."""
    path = root / f"Pulumi.{stack}.yaml"
    return _load_stack(stack, root, path.stat().st_mtime_ns if path.exists() else 0)


@functools.lru_cache(maxsize=8)
def _load_stack(stack: str, root: Path, _mtime: int) -> Stack:
    """Cached per file version: parsing the YAML is most of a short command's time."""
    try:
        file = load_stack_file(stack, root)
    except StackFileError as exc:
        raise StackError(str(exc)) from None
    prefix = f"{file.project}:"
    raw: dict[str, Any] = {}
    for key, text in file.values.items():
        if not key.startswith(prefix) or key in file.secret_keys:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            continue  # a plain string value: no structured section is a string
        if isinstance(value, dict):
            raw[key[len(prefix):]] = value
    try:
        return Stack(name=stack, config=validate(stack, raw))
    except ConfigError as exc:
        raise StackError("; ".join(exc.lines)) from None
