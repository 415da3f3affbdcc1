"""``python -m offline diff BASE HEAD``: what a change does to each stack, as Markdown for a pull request.

BASE and HEAD are two ``plan.json`` files or two directories of ``<stack>/plan.json`` (what ``python -m
offline preview --all --out DIR`` writes; the pull-request workflow renders the base branch into one and the
head into the other). Resources are matched by type and logical name, as ``scripts/compare_plans.py`` does
(its loading and normalising is reused: URNs and parents are ignored, JSON documents compare as JSON).

Per stack it prints the resources to add, remove and change, each changed input (``path: before -> after``)
and, in **bold**, every stateful resource that is removed or that a changed input replaces (see
``REPLACE_ON_CHANGE``). Values are masked when the plan masked them (``[secret]``) or when the input's name
says it holds a secret. When HEAD is a build directory, each stack's policy findings (the ``- FAIL`` and
``- WARN`` lines of ``compliance.md`` and ``deploy.md``) and the cost delta (``cost.md``'s total line, when
both sides have one) follow.

This is the offline early warning. The authority on replacements is ``pulumi preview`` against the real
state (it shows them as ``+-``), which the pull-request workflow runs next and posts too.

Exit codes: 0 printed (whatever the differences), 2 bad usage or an unreadable plan (one line).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.engine import JSON_DOCUMENT
from scripts.compare_plans import (
    DEPENDENCY_KEYS,
    PROPERTY_DEPENDENCY_KEYS,
    LoadedPlan,
    PlanError,
    Ref,
    _join,
    _show,
    load_plan,
    pairs,
)

MASK = "[secret]"

#: Input properties whose change makes the provider replace (delete and re-create) a stateful resource: data
#: is lost unless restored. Source: the resource schemas of the Terraform AWS provider, which pulumi-aws bridges
#: (attributes marked ``ForceNew``, i.e. "Forces new resource" in the registry docs of aws_db_instance,
#: aws_rds_cluster, aws_elasticache_replication_group, aws_msk_cluster, aws_s3_bucket, aws_kms_key,
#: aws_eks_cluster), and for Kubernetes the API's immutable fields (PersistentVolumeClaim spec except
#: ``resources.requests``; StatefulSet ``selector``, ``serviceName``, ``volumeClaimTemplates``,
#: ``podManagementPolicy``), which pulumi-kubernetes replaces instead of patching. Paths are the plan's
#: camelCase input paths; a nested path covers everything under it. Renaming a resource (a new logical or
#: physical name) always replaces it. The list covers the types this program uses and is deliberately
#: conservative; ``pulumi preview`` in the same comment is the authority.
REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": (
        "identifier", "identifierPrefix", "engine", "dbName", "username", "storageEncrypted", "kmsKeyId",
        "availabilityZone", "characterSetName", "ncharCharacterSetName", "timezone", "snapshotIdentifier",
        "restoreToPointInTime", "s3Import", "customIamInstanceProfile"),
    "aws:rds/cluster:Cluster": (
        "clusterIdentifier", "clusterIdentifierPrefix", "engine", "engineMode", "databaseName", "masterUsername",
        "storageEncrypted", "kmsKeyId", "availabilityZones", "snapshotIdentifier", "sourceRegion", "s3Import",
        "restoreToPointInTime"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId", "atRestEncryptionEnabled", "kmsKeyId", "subnetGroupName", "snapshotArns",
        "snapshotName", "preferredCacheClusterAzs"),
    "aws:msk/cluster:Cluster": (
        "clusterName", "brokerNodeGroupInfo.clientSubnets", "brokerNodeGroupInfo.securityGroups",
        "brokerNodeGroupInfo.azDistribution", "encryptionInfo.encryptionAtRestKmsKeyArn",
        "encryptionInfo.encryptionInTransit.inCluster"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    "aws:eks/cluster:Cluster": (
        "name", "roleArn", "encryptionConfig.provider", "kubernetesNetworkConfig.serviceIpv4Cidr",
        "kubernetesNetworkConfig.ipFamily", "bootstrapSelfManagedAddons",
        "accessConfig.bootstrapClusterCreatorAdminPermissions"),
    "kubernetes:core/v1:PersistentVolumeClaim": (
        "metadata.name", "metadata.namespace", "spec.accessModes", "spec.storageClassName", "spec.selector",
        "spec.volumeName", "spec.volumeMode", "spec.dataSource", "spec.dataSourceRef"),
    "kubernetes:apps/v1:StatefulSet": (
        "metadata.name", "metadata.namespace", "spec.selector", "spec.serviceName", "spec.volumeClaimTemplates",
        "spec.podManagementPolicy"),
}

#: An input whose name says it holds a secret is masked even if the program forgot to mark it secret.
_SECRET_NAME = re.compile(r"(?i)^[a-z0-9_]*(password|passwd|secret|secretstring|token|privatekey|credentials?)$")
_PATH_PART = re.compile(r'\["(?:[^"\\]|\\.)*"\]|[^.\[\]]+')
_COST_TOTAL = re.compile(r"(?i)total[^$\n]*\$\s?(?P<amount>[0-9][0-9,]*(?:\.[0-9]+)?)")
REPORTS = ("compliance.md", "deploy.md")


@dataclass
class ResourceChange:
    ref: Ref
    lines: list[str]
    #: the changed inputs (top-level paths) that replace this stateful resource
    replaced_by: list[str] = field(default_factory=list)


@dataclass
class StackDiff:
    label: str
    before_count: int
    after_count: int
    added: list[Ref]
    removed: list[Ref]
    changed: list[ResourceChange]

    @property
    def replaced(self) -> list[ResourceChange]:
        return [c for c in self.changed if c.replaced_by]


def is_stateful(type_: str) -> bool:
    return type_ in REPLACE_ON_CHANGE


def replacing_paths(type_: str, paths: list[str]) -> list[str]:
    """The changed input paths (``a.b[0].c``) that fall under one of the type's replace-on-change properties."""
    found = []
    for path in paths:
        for prop in REPLACE_ON_CHANGE.get(type_, ()):
            if path == prop or path.startswith(prop + ".") or path.startswith(prop + "["):
                found.append(prop)
                break
    return sorted(set(found))


def _unwrap(value: Any) -> Any:
    """The plan's ``{"@json": document}`` (a JSON document held in a string input) as the document itself."""
    if isinstance(value, dict):
        if set(value) == {JSON_DOCUMENT}:
            return _unwrap(value[JSON_DOCUMENT])
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def _secret_path(path: str) -> bool:
    """A plain key on the path (not a quoted key such as an IAM condition key) names a secret."""
    return any(_SECRET_NAME.match(part) for part in _PATH_PART.findall(path) if not part.startswith('["'))


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _leaves(path: str, before: Any, after: Any) -> list[tuple[str, str, Any, Any]]:
    """(path, "changed" | "added" | "removed", before, after) per differing leaf, like compare_plans.diff_values."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[tuple[str, str, Any, Any]] = []
        for key in sorted(set(before) | set(after)):
            where = _join(path, key)
            if key not in before:
                found.append((where, "added", None, after[key]))
            elif key not in after:
                found.append((where, "removed", before[key], None))
            else:
                found.extend(_leaves(where, before[key], after[key]))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            found.extend(_leaves(f"{path}[{index}]", old, new))
        return found
    return [(path, "changed", before, after)]


def _input_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """One Markdown line per changed leaf of a resource (inputs by their own path), and the changed paths.
    Dependencies are left out (a reviewer reads inputs); secrets are masked."""
    leaves: list[tuple[str, str, Any, Any]] = []
    for key in sorted(set(before) | set(after)):
        if key in DEPENDENCY_KEYS or key in PROPERTY_DEPENDENCY_KEYS:
            continue
        if key == "inputs":
            leaves.extend(_leaves("", before.get(key) or {}, after.get(key) or {}))
        elif key not in before:
            leaves.append((key, "added", None, after[key]))
        elif key not in after:
            leaves.append((key, "removed", before[key], None))
        else:
            leaves.extend(_leaves(key, before[key], after[key]))
    lines = []
    for path, kind, old, new in leaves:
        if _secret_path(path) or MASK in (old, new):
            lines.append(f"{_code(path)}: {kind} (secret: value masked)")
        elif kind == "added":
            lines.append(f"{_code(path)}: added {_code(_show(new))}")
        elif kind == "removed":
            lines.append(f"{_code(path)}: removed (was {_code(_show(old))})")
        else:
            lines.append(f"{_code(path)}: {_code(_show(old))} → {_code(_show(new))}")
    return lines, [path for path, *_ in leaves]


def diff_plans(before: LoadedPlan, after: LoadedPlan, label: str) -> StackDiff:
    added, removed, changed = [], [], []
    for ref in sorted(set(before.resources) | set(after.resources)):
        old, new = before.resources.get(ref, []), after.resources.get(ref, [])
        if not new:
            removed.extend([ref] * len(old))
        elif not old:
            added.extend([ref] * len(new))
        elif len(old) == 1 and len(new) == 1:
            lines, paths = _input_changes(_unwrap(old[0]), _unwrap(new[0]))
            if lines:
                changed.append(ResourceChange(ref, lines, replacing_paths(ref.type, paths)))
        elif sorted(json.dumps(r, sort_keys=True, default=str) for r in old) != sorted(
                json.dumps(r, sort_keys=True, default=str) for r in new):
            changed.append(ResourceChange(ref, [f"{len(old)} before and {len(new)} after share this type and name"]))
    return StackDiff(label, before.count, after.count, added, removed, changed)


def _ref(ref: Ref) -> str:
    return f"{_code(ref.type)} {_code(ref.name)}"


def render_stack(diff: StackDiff) -> list[str]:
    updates = len(diff.changed) - len(diff.replaced)
    lines = [f"### Stack `{diff.label}`", ""]
    if not (diff.added or diff.removed or diff.changed):
        return lines + [f"No changes ({diff.before_count} resources).", ""]
    lines += [f"{len(diff.added)} to add, {updates} to change, {len(diff.replaced)} to replace, "
              f"{len(diff.removed)} to remove ({diff.before_count} resources before, {diff.after_count} after)", ""]
    stateful_removed = [r for r in diff.removed if is_stateful(r.type)]
    if diff.replaced or stateful_removed:
        lines += ["**Stateful resources replaced or removed: their data is lost unless restored. "
                  "Check `pulumi preview` below.**", ""]
    if diff.added:
        lines += ["#### Added", ""] + [f"- {_ref(r)}" for r in diff.added] + [""]
    if diff.removed:
        lines += ["#### Removed", ""]
        lines += [f"- **{_ref(r)} (stateful: removed)**" if is_stateful(r.type) else f"- {_ref(r)}"
                  for r in diff.removed] + [""]
    if diff.changed:
        lines += ["#### Changed", ""]
        for change in diff.changed:
            if change.replaced_by:
                forced = ", ".join(_code(p) for p in change.replaced_by)
                lines.append(f"- **{_ref(change.ref)}: replaced (stateful; {forced} forces a new resource)**")
            else:
                lines.append(f"- {_ref(change.ref)}")
            lines += [f"  - {line}" for line in change.lines]
        lines.append("")
    return lines


def policy_findings(stack_dir: Path) -> list[str] | None:
    """The ``- FAIL``/``- WARN`` lines of each pack report in ``stack_dir``; None when there is no report."""
    found: list[str] | None = None
    for name in REPORTS:
        path = stack_dir / name
        if not path.is_file():
            continue
        found = found or []
        for line in path.read_text().splitlines():
            if line.startswith(("- FAIL ", "- WARN ")):
                found.append(f"{line} ({name})")
    return found


def cost_total(path: Path) -> float | None:
    if not path.is_file():
        return None
    match = _COST_TOTAL.search(path.read_text())
    return float(match["amount"].replace(",", "")) if match else None


def render_extras(base_dir: Path | None, head_dir: Path | None) -> list[str]:
    if head_dir is None:
        return []
    lines: list[str] = []
    findings = policy_findings(head_dir)
    if findings is not None:
        failing = [f for f in findings if f.startswith("- FAIL ")]
        advisory = [f for f in findings if f.startswith("- WARN ")]
        lines += ["#### Policy findings", "", f"{len(failing)} mandatory (FAIL), {len(advisory)} advisory (WARN).", ""]
        lines += failing + ([""] if failing else [])
        if advisory:  # folded: dev relaxes several policies to advisory on purpose
            lines += ["<details><summary>Advisory findings</summary>", "", *advisory, "", "</details>", ""]
    head_cost = cost_total(head_dir / "cost.md")
    if head_cost is not None:
        base_cost = cost_total(base_dir / "cost.md") if base_dir is not None else None
        if base_cost is None:
            lines += [f"Estimated monthly cost: ${head_cost:,.2f} (no estimate on the base branch)", ""]
        else:
            delta = head_cost - base_cost
            lines += [f"Estimated monthly cost: ${base_cost:,.2f} → ${head_cost:,.2f} "
                      f"({'+' if delta >= 0 else '-'}${abs(delta):,.2f})", ""]
    return lines


def render(base: Path, head: Path) -> str:
    """The Markdown for every stack in BASE and HEAD (raises PlanError on a bad path or plan)."""
    out = ["## Infrastructure changes (offline plan)", ""]
    for label, old_path, new_path in pairs(base, head):
        if old_path is None or new_path is None:
            side = "head" if new_path is None else "base"
            out += [f"### Stack `{label}`", "", f"**No plan on the {side} side.**", ""]
            continue
        old, new = load_plan(old_path), load_plan(new_path)
        name = label or (new.label if old.label == new.label else f"{old.label} -> {new.label}")
        out += render_stack(diff_plans(old, new, name))
        if head.is_dir():
            out += render_extras(old_path.parent if base.is_dir() else None, new_path.parent)
    return "\n".join(out).rstrip("\n") + "\n"


__all__ = ["REPLACE_ON_CHANGE", "PlanError", "render", "diff_plans", "render_stack"]
