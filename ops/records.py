"""Drill records: dated Markdown files in ``docs/drills/`` with a YAML front matter that ``golive`` reads.

The format is described in ``docs/drills/README.md``::

    ---
    kind: dr-drill            # or failover-drill
    drillId: drill-20261202T171300Z
    stack: prod
    scenario: pitr            # pitr | region | rds | redis
    target: prm               # the database (or redis)
    startedAt: '2026-12-02T17:13:00+00:00'
    rtoSeconds: 1260.0        # dr-drill: start of the restore to available (null when never available)
    rpoSeconds: 300.0         # dr-drill: drill start minus the latest restorable time
    recoverySeconds: null     # failover-drill: failover call to recovered
    result: pass              # pass | fail
    ---
    # the drill's report (the same Markdown as --markdown)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from offline.stackfile import ROOT

DRILLS_DIR = ROOT / "docs" / "drills"
FIELDS: tuple[str, ...] = ("kind", "drillId", "stack", "scenario", "target", "startedAt", "rtoSeconds",
                           "rpoSeconds", "recoverySeconds", "result")


class RecordError(Exception):
    """A drill record is not in the ``docs/drills/`` format."""


@dataclass(frozen=True)
class DrillRecord:
    path: Path
    kind: str
    drill_id: str
    stack: str
    scenario: str
    target: str
    started_at: datetime
    rto_seconds: float | None
    rpo_seconds: float | None
    recovery_seconds: float | None
    result: str


def record_name(kind: str, stack: str, scenario: str, target: str, started_at: datetime) -> str:
    return f"{started_at:%Y-%m-%d-%H%M%S}-{stack}-{kind}-{scenario}-{target}.md"


def write_record(directory: Path, front: dict[str, Any], body: str) -> Path:
    missing = [f for f in FIELDS if f not in front]
    if missing:
        raise RecordError(f"drill record lacks {', '.join(missing)}")
    started = datetime.fromisoformat(front["startedAt"])
    path = directory / record_name(front["kind"], front["stack"], front["scenario"], front["target"], started)
    directory.mkdir(parents=True, exist_ok=True)
    header = yaml.safe_dump({f: front[f] for f in FIELDS}, sort_keys=False)
    path.write_text(f"---\n{header}---\n{body}")
    return path


def read_record(path: Path) -> DrillRecord:
    text = path.read_text()
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise RecordError(f"{path.name}: no YAML front matter (see docs/drills/README.md)")
    front = yaml.safe_load(text[4:text.index("\n---\n", 4)]) or {}
    missing = [f for f in FIELDS if f not in front]
    if missing:
        raise RecordError(f"{path.name}: front matter lacks {', '.join(missing)}")
    try:
        started = datetime.fromisoformat(str(front["startedAt"]))
    except ValueError:
        raise RecordError(f"{path.name}: startedAt {front['startedAt']!r} is not an ISO 8601 time") from None

    def seconds(key: str) -> float | None:
        value = front[key]
        return None if value is None else float(value)

    return DrillRecord(path, str(front["kind"]), str(front["drillId"]), str(front["stack"]), str(front["scenario"]),
                       str(front["target"]), started, seconds("rtoSeconds"), seconds("rpoSeconds"),
                       seconds("recoverySeconds"), str(front["result"]))


def latest_record(directory: Path, stack: str, kind: str) -> DrillRecord | None:
    """The stack's most recent record of a kind (README.md and other files without front matter are skipped)."""
    records = []
    for path in sorted(directory.glob("*.md")):
        if path.name == "README.md":
            continue
        record = read_record(path)
        if record.stack == stack and record.kind == kind:
            records.append(record)
    return max(records, key=lambda r: r.started_at, default=None)
