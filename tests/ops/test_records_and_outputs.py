"""Drill records (the docs/drills format) and the --outputs file, both read before or without AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.discover import OutputsError, Resource, read_outputs
from ops.records import RecordError, latest_record, write_record
from ops.stack import load_stack

FRONT = {"kind": "dr-drill", "drillId": "drill-20261202170000", "stack": "prod", "scenario": "pitr",
         "target": "prm", "startedAt": "2026-12-02T17:00:00+00:00", "rtoSeconds": 1260.0, "rpoSeconds": 300.0,
         "recoverySeconds": None, "result": "pass"}


def test_latest_record_is_the_newest_of_the_stack_and_kind(tmp_path: Path) -> None:
    write_record(tmp_path, FRONT, "# old\n")
    newer = write_record(tmp_path, {**FRONT, "startedAt": "2026-12-03T09:30:00+00:00", "rtoSeconds": 900.0}, "# new\n")
    write_record(tmp_path, {**FRONT, "stack": "staging", "startedAt": "2026-12-04T00:00:00+00:00"}, "# other\n")
    (tmp_path / "README.md").write_text("# Drill records\n")
    record = latest_record(tmp_path, "prod", "dr-drill")
    assert record is not None
    assert (record.path, record.rto_seconds, record.rpo_seconds) == (newer, 900.0, 300.0)
    assert latest_record(tmp_path, "prod", "failover-drill") is None


def test_a_record_without_front_matter_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "2026-12-01-notes.md").write_text("# notes without front matter\n")
    with pytest.raises(RecordError, match=r"^2026-12-01-notes.md: no YAML front matter \(see docs/drills/README.md\)$"):
        latest_record(tmp_path, "prod", "dr-drill")


def test_outputs_name_the_databases_and_backed_up_buckets(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "prmDatabase": {"endpoint": "care-prod-prm.c1ab2cd3ef45.us-east-2.rds.amazonaws.com"},
        "nlfhirDatabase": {"endpoint": "care-prod-nlfhir.c1ab2cd3ef45.us-east-2.rds.amazonaws.com"},
        "bucketNames": {"accessLogs": "care-prod-access-logs-333333333333",
                        "staticAssets": "care-prod-static-assets-333333333333",
                        "appData": "care-prod-app-data-333333333333", "auditLogs": "care-prod-audit-logs-333333333333"},
    }))
    assert read_outputs(load_stack("prod"), outputs) == [
        Resource("rds", "arn:aws:rds:us-east-2:333333333333:db:care-prod-prm"),
        Resource("rds", "arn:aws:rds:us-east-2:333333333333:db:care-prod-nlfhir"),
        Resource("s3", "arn:aws:s3:::care-prod-static-assets-333333333333"),
        Resource("s3", "arn:aws:s3:::care-prod-app-data-333333333333"),
        Resource("s3", "arn:aws:s3:::care-prod-audit-logs-333333333333"),
    ]


@pytest.mark.parametrize("content, message", [
    (None, "no such file (write it with `pulumi stack output --json`)"),
    ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1)"),
    ("[]", "must be the JSON object `pulumi stack output --json` prints"),
])
def test_unreadable_outputs_are_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    outputs = tmp_path / "outputs.json"
    if content is not None:
        outputs.write_text(content)
    with pytest.raises(OutputsError) as error:
        read_outputs(load_stack("prod"), outputs)
    assert str(error.value) == f"--outputs {outputs}: {message}"
