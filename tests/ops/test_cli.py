"""The CLI contract: STS first and a wrong account refused before any other call; usage errors exit 2 with
one line; capacity offline with exact numbers."""

from __future__ import annotations

import json

import pytest

from config import validate
from ops.capacity import capacity
from ops.stack import Stack, load_stack
from tests.helpers import stack_raw, with_overrides
from tests.ops.awsfakes import PRIMARY, Aws, ScriptedClock, run, utc


@pytest.mark.parametrize("argv", [
    ["backup-audit"], ["dr-drill", "--scenario", "pitr", "--yes"], ["dr-drill", "--scenario", "region"],
    ["failover-drill", "--yes"], ["golive"],
])
def test_wrong_account_is_refused_before_any_other_call(aws: Aws, argv: list[str]) -> None:
    sts = aws.stub("sts")
    sts.add_response("get_caller_identity", {"Account": "123456789012", "UserId": "AIDAEXAMPLE",
                                             "Arn": "arn:aws:iam::123456789012:user/dev"}, {})
    result = run(aws, *argv, "--stack", "prod", clock=ScriptedClock(utc(17)))
    assert result.code == 2
    assert result.err.strip() == (
        "error: refusing to run: the credentials are for account 123456789012 (arn:aws:iam::123456789012:user/dev), "
        "stack 'prod' is account 333333333333 (environment.accountId)")
    assert aws.created == [("sts", PRIMARY)]
    aws.assert_all_used()


def test_the_right_account_is_verified_by_moto_sts(aws: Aws) -> None:
    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", clock=ScriptedClock(utc(17)))
    assert result.code == 0
    assert result.err.startswith("account 333333333333 verified for stack prod")


@pytest.mark.parametrize("argv, message", [
    (["backup-audit", "--stack", "nope"], "error: no stack file Pulumi.nope.yaml (stacks here: dev, staging, prod)"),
    (["dr-drill", "--stack", "prod", "--scenario", "pitr", "--restore-time", "yesterday"],
     "argument --restore-time: 'yesterday' is not an ISO 8601 time like 2026-12-02T03:15:00Z"),
    (["dr-drill", "--stack", "prod", "--scenario", "pitr", "--restore-time", "2026-12-02T03:00:00"],
     "argument --restore-time: '2026-12-02T03:00:00' has no timezone: add Z for UTC"),
    (["failover-drill", "--stack", "prod", "--timeout-minutes", "0"],
     "argument --timeout-minutes: '0' is not a positive whole number of minutes"),
    (["dr-drill", "--stack", "prod"], "the following arguments are required: --scenario"),
])
def test_usage_errors_exit_2_with_one_line_and_no_aws_call(aws: Aws, capsys: pytest.CaptureFixture[str],
                                                           argv: list[str], message: str) -> None:
    result = run(aws, *argv)
    assert result.code == 2
    assert message in result.err + capsys.readouterr().err
    assert aws.created == []


def test_capacity_of_prod_holds_every_workload_at_max(aws: Aws) -> None:
    result = run(aws, "capacity", "--stack", "prod", "--json")
    assert result.code == 0
    rows = {(c["resource"], c["check"]): c["detail"] for c in json.loads(result.out)["checks"]}
    # app pool: 12 x m5.xlarge, 3720m / 15007Mi allocatable per node after reservations and DaemonSets;
    # nlfhir 10 x 2100m + prm-api 12 x 1100m + chromadb 1100m + system 1400m = 36700m
    assert rows[("pool app", "cpu at max (12 x m5.xlarge)")] == "36700m of 44640m (82% utilisation)"
    assert rows[("nlfhir pod", "fits one m5.xlarge node")] == ("requests 2100m / 2176Mi; a node offers "
                                                               "3720m / 15007Mi")
    assert aws.created == []  # offline: no STS, no AWS


def test_capacity_fails_when_autoscaling_could_never_be_satisfied() -> None:
    raw = with_overrides(stack_raw("prod"), {"apps.prmWorker.maxReplicas": 20,
                                             "eks.nodePools.worker": {"instanceTypes": ["c5.xlarge"], "desired": 2,
                                                                      "min": 2, "max": 2}})
    report = capacity(Stack("prod", validate("prod", raw)))
    failed = [(c.resource, c.check, c.detail) for c in report.checks if c.status == "fail"]
    assert failed == [
        ("pool worker", "cpu at max (2 x c5.xlarge)", "22000m of 7440m (296% utilisation)"),
        ("pool worker", "memory at max (2 x c5.xlarge)", "43520Mi of 13630Mi (319% utilisation)"),
    ]
    assert report.exit_code == 1


def test_stack_facts_follow_the_program_names() -> None:
    stack = load_stack("staging")
    assert (stack.account_id, stack.primary_region, stack.database_identifier("nlfhir"), stack.vault_name,
            stack.dr_vault_name, stack.redis_replication_group_id, stack.kms_alias("database"),
            stack.database_major("prm")) == (
        stack.config.environment.account_id, stack.config.regions.primary, "care-staging-nlfhir",
        "care-staging-backup-vault", "care-staging-backup-dr-vault", "care-staging-redis",
        "alias/care-platform/staging/database", "18")
