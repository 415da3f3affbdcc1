"""Changes that cannot be applied later, and schedules AWS runs against each other: a PVC size increase
needs a StorageClass with volume expansion; AWS Backup jobs must not start during, or in the hour before,
an RDS maintenance window."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from deploy_common import (
    BACKUP_PLAN,
    K8S_PVC,
    K8S_STATEFULSET,
    K8S_STORAGE_CLASS,
    RDS_INSTANCE,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    get,
    is_true,
    is_unknown,
    of_type,
    policies_of,
    stack_policy,
)
from deploy_versions import db_key

EXPANSION_SOURCE = "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims"
WINDOW_SOURCE = "https://docs.aws.amazon.com/aws-backup/latest/devguide/creating-a-backup-plan.html#plan-options-and-configuration"

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60


def _claims(resources: list[Resource]) -> Iterator[tuple[Resource, Any]]:
    """(owner, storageClassName) of every PVC and StatefulSet volumeClaimTemplate."""
    for pvc in of_type(resources, K8S_PVC):
        yield pvc, get(pvc.props, "spec.storageClassName")
    for sts in of_type(resources, K8S_STATEFULSET):
        templates = get(sts.props, "spec.volumeClaimTemplates")
        for template in as_list(templates) if not is_unknown(templates) else []:
            yield sts, get(template, "spec.storageClassName") if isinstance(template, dict) else None


@stack_policy(
    "storage-class-allows-expansion", concern="kubernetes", source=EXPANSION_SOURCE,
    types=(K8S_STORAGE_CLASS, K8S_STATEFULSET, K8S_PVC),
    description="A StorageClass that PVCs or StatefulSets claim has allowVolumeExpansion true.",
)
def storage_class_allows_expansion(resources: list[Resource], report: Report, _: Settings) -> None:
    classes = {get(sc.props, "metadata.name"): sc for sc in of_type(resources, K8S_STORAGE_CLASS)}
    flagged: set[str] = set()
    for owner, name in _claims(resources):
        sc = classes.get(name) if isinstance(name, str) else None
        if sc is None or sc.urn in flagged or is_unknown(sc.get("allowVolumeExpansion")):
            continue
        if not is_true(sc.get("allowVolumeExpansion")):
            flagged.add(sc.urn)
            report(f"is claimed by {owner.name} but does not set allowVolumeExpansion: true, so a volume can never "
                   "grow (the API server rejects a larger PVC request, and volumeClaimTemplates are immutable). Set "
                   "allowVolumeExpansion: true on the StorageClass (components/eks/storage.py).", sc.urn)


_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?\)$")
_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):(\d\d):(\d\d)-(mon|tue|wed|thu|fri|sat|sun):(\d\d):(\d\d)$")


def _starts(schedule: Any) -> list[int] | None:
    """Minutes of the week a daily/weekly AWS Backup cron can start at; None if it cannot be read."""
    match = _CRON.match(schedule) if isinstance(schedule, str) else None
    if not match:
        return None
    minute, hour, dom, _month, dow = match.groups()[:5]
    if not (minute.isdigit() and hour.isdigit()) or dom not in ("?", "*"):
        return None
    days = range(7) if dow in ("?", "*") else [i for i, d in enumerate(DAYS) if d.upper() in dow.upper()]
    return [d * 24 * 60 + int(hour) * 60 + int(minute) for d in days]


def _window(text: Any) -> tuple[int, int] | None:
    match = _WINDOW.match(text) if isinstance(text, str) else None
    if not match:
        return None
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = DAYS.index(d1) * 1440 + int(h1) * 60 + int(m1)
    end = DAYS.index(d2) * 1440 + int(h2) * 60 + int(m2)
    return start, end if end > start else end + WEEK


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return any(a[0] + s < b[1] and b[0] < a[1] + s for s in (-WEEK, 0, WEEK))


def _hhmm(minutes: int) -> str:
    minutes %= WEEK
    return f"{DAYS[minutes // 1440]} {minutes % 1440 // 60:02d}:{minutes % 60:02d}"


@stack_policy(
    "backup-window-clear-of-maintenance", concern="schedules", source=WINDOW_SOURCE, types=(BACKUP_PLAN, RDS_INSTANCE),
    description="AWS Backup start windows do not fall in, or within an hour before, an RDS maintenance window.",
)
def backup_window_clear_of_maintenance(resources: list[Resource], report: Report, _: Settings) -> None:
    databases = [(db, _window(db.get("maintenanceWindow"))) for db in of_type(resources, RDS_INSTANCE)
                 if not db.get("replicateSourceDb")]
    for plan in of_type(resources, BACKUP_PLAN):
        for rule in as_list(plan.get("rules")) if not is_unknown(plan.get("rules")) else []:
            if not isinstance(rule, dict):
                continue
            starts, length = _starts(rule.get("schedule")), as_int(rule.get("startWindow")) or 480
            for db, window in databases:
                if window is None:
                    continue
                guarded = (window[0] - 60, window[1])
                hit = next((s for s in starts or [] if _overlaps((s, s + length), guarded)), None)
                if hit is not None:
                    report(f"rule {rule.get('ruleName')!r} may start {_hhmm(hit)}-{_hhmm(hit + length)} UTC, in or "
                           f"within an hour before {db.get('identifier')}'s maintenance window "
                           f"{db.get('maintenanceWindow')}: AWS Backup skips or fails jobs then. Move backup.schedule "
                           f"or {db_key(db)}.maintenanceWindow in Pulumi.<stack>.yaml.", plan.urn)

POLICIES = policies_of(__name__)
