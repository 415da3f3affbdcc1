"""Find the stack's stateful resources: by its standard tags (Resource Groups Tagging API) or from a
saved ``pulumi stack output --json`` file (``--outputs FILE``).

Stateful means selected for AWS Backup: RDS instances, S3 data buckets and the EBS volumes of the
persistent volume claims (ChromaDB, Prometheus), all carrying ``Backup=true``
(``components.common.BACKUP_TAG_KEY``). The EBS volumes are created by the EBS CSI driver, not by
Pulumi, so they are not stack outputs: they are always found by tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.common import BACKUP_TAG_KEY
from ops.context import Context
from ops.stack import Stack

#: The Tagging API resource types of stateful resources, and what the report calls them.
RESOURCE_TYPES: dict[str, str] = {"rds:db": "rds", "s3": "s3", "ec2:volume": "ebs"}

#: The stack outputs (``__main__.py``'s ``bucketNames`` keys) of the buckets AWS Backup selects.
BACKED_UP_BUCKET_OUTPUTS: tuple[str, ...] = ("staticAssets", "appData", "auditLogs")


class OutputsError(Exception):
    """The ``--outputs`` file is missing, not JSON, or lacks a stack output (usage error)."""


@dataclass(frozen=True)
class Resource:
    kind: str  # rds | s3 | ebs
    arn: str

    @property
    def name(self) -> str:
        """The short name: the DB identifier, the bucket name or the volume id."""
        return self.arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class Inventory:
    resources: list[Resource] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]


def _tagged(ctx: Context, types: list[str], extra_filters: list[dict[str, Any]] | None = None,
            region: str | None = None) -> list[tuple[str, dict[str, str]]]:
    client = ctx.client("resourcegroupstaggingapi", region)
    found: list[tuple[str, dict[str, str]]] = []
    for page in client.get_paginator("get_resources").paginate(
            TagFilters=ctx.stack.tag_filters + (extra_filters or []), ResourceTypeFilters=types):
        for item in page["ResourceTagMappingList"]:
            found.append((item["ResourceARN"], {t["Key"]: t["Value"] for t in item.get("Tags", [])}))
    return found


def _kind(arn: str) -> str:
    service = arn.split(":")[2]
    return {"rds": "rds", "s3": "s3", "ec2": "ebs"}[service]


def by_tags(ctx: Context, types: tuple[str, ...] = tuple(RESOURCE_TYPES)) -> Inventory:
    """The stack's backed-up resources in the primary region, found by Project, Environment and Backup tags."""
    backup_filter = [{"Key": BACKUP_TAG_KEY, "Values": ["true"]}]
    found = _tagged(ctx, list(types), backup_filter)
    return Inventory(sorted((Resource(_kind(arn), arn) for arn, _ in found), key=lambda r: (r.kind, r.arn)))


def _read_outputs(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputsError(f"--outputs {path}: no such file (write it with `pulumi stack output --json`)") from None
    except json.JSONDecodeError as exc:
        raise OutputsError(f"--outputs {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise OutputsError(f"--outputs {path}: must be the JSON object `pulumi stack output --json` prints")
    return data


def _require(data: dict[str, Any], path: Path, *keys: str) -> Any:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict) or node.get(key) in (None, ""):
            raise OutputsError(f"--outputs {path}: missing stack output {'.'.join(keys)}")
        node = node[key]
    return node


def read_outputs(stack: Stack, path: Path) -> list[Resource]:
    """Databases and buckets named by the stack outputs; read before any AWS call (a bad file is usage)."""
    data = _read_outputs(path)
    resources: list[Resource] = []
    for output in ("prmDatabase", "nlfhirDatabase"):
        endpoint = str(_require(data, path, output, "endpoint"))
        identifier = endpoint.split(".", 1)[0]
        resources.append(Resource("rds", f"arn:aws:rds:{stack.primary_region}:{stack.account_id}:db:{identifier}"))
    for output in BACKED_UP_BUCKET_OUTPUTS:
        resources.append(Resource("s3", f"arn:aws:s3:::{_require(data, path, 'bucketNames', output)}"))
    return resources


def inventory(ctx: Context, from_outputs: list[Resource] | None) -> Inventory:
    """By tags; or the outputs' databases and buckets plus the PVC volumes (never outputs) by tags."""
    if from_outputs is None:
        return by_tags(ctx)
    resources = from_outputs + by_tags(ctx, ("ec2:volume",)).resources
    return Inventory(sorted(resources, key=lambda r: (r.kind, r.arn)))
