"""Issue #14: the offline cost estimate (offline/pricing.yaml, offline/pricers.py, offline/cost.py, cost.md).

The real stacks are the session's shared renders (tests.helpers.rendered_stack); the arithmetic cases assert
the cost lines of real prod resources to the cent, each against the published unit prices written out.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

import offline.__main__ as cli
from offline.cost import PRICERS, SHARED, UNKNOWN_TYPE, Estimate, budget_below_estimate, estimate, unknown_types, usd
from offline.cost_report import render_cost_markdown, summary_line
from offline.engine import Plan
from offline.pricing import PRICING_PATH, PricingError, PricingTable, load_pricing
from tests.helpers import render, rendered_stack

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def table() -> PricingTable:
    return load_pricing()


@pytest.fixture(scope="module")
def prod(table: PricingTable) -> Estimate:
    return estimate(rendered_stack("prod"), table)


def _lines(est: Estimate, name: str) -> list[tuple[str, Decimal]]:
    return [(line.item, line.monthly) for line in est.lines if line.name == name]


def test_every_type_of_the_three_stacks_is_priced_or_explicitly_free(table: PricingTable) -> None:
    missing = unknown_types([rendered_stack(s) for s in STACKS], table)
    assert not missing, (
        f"resource types neither priced nor free: {', '.join(missing)}. For each, either add a pricer to "
        "offline/pricers.py PRICERS or offline/pricers_audit.py AUDIT_PRICERS (its unit prices under priceSets in "
        "offline/pricing.yaml, with the source URL) "
        "or, if it costs nothing by itself, a line `<type>: <why it is free>` under `free:` in offline/pricing.yaml")
    # What stays unpriced, exactly: two GuardDuty protection plans billed per event/GB scanned that the table has
    # no trustworthy price for yet (listed as UNPRICED in cost.md, the total marked a lower bound; never 0).
    for stack in STACKS:
        assert sorted((u.type, u.name) for u in estimate(rendered_stack(stack), table).unpriced) == [
            ("aws:guardduty/detectorFeature:DetectorFeature", f"care-{stack}-audit-guardduty-ebs-malware-protection"),
            ("aws:guardduty/detectorFeature:DetectorFeature", f"care-{stack}-audit-guardduty-rds-login-events"),
        ], stack


def test_no_type_is_both_priced_and_free(table: PricingTable) -> None:
    assert sorted(set(PRICERS) & set(table.free)) == []


def test_the_pricing_table_is_dated_and_sourced(table: PricingTable) -> None:
    text = PRICING_PATH.read_text()
    assert table.recorded == datetime.date(2026, 12, 2)
    assert table.refresh_by > table.recorded
    assert table.hours_per_month == Decimal(730)
    for service in ("eks", "ec2", "ebs", "vpc", "privatelink", "rds", "elasticache", "msk", "kms", "secretsManager",
                    "cloudwatch", "s3", "elb", "cloudfront", "waf", "shield"):
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{service}:"))
        assert "# https://aws.amazon.com/" in line, line
    assert "REFRESH THEM" in text


def test_prices_are_read_exactly_not_through_floats(table: PricingTable) -> None:
    prices = table.prices("us-east-2")
    assert prices is not None
    assert prices.msk.broker_hour["kafka.t3.small"] == Decimal("0.0456")
    assert prices.ec2.instance_hour["t3.large"] == Decimal("0.0832")
    assert table.prices("eu-central-1") is None


# --- the arithmetic, to the cent (prod: Pulumi.prod.yaml's classes and counts) -------------------------------

def test_eks_control_plane_and_nodes(prod: Estimate) -> None:
    assert _lines(prod, "care-prod-eks-cluster") == [("control plane 730 h x 0.1", Decimal("73.00"))]
    # 6 x m5.xlarge at 0.192/h: 6 x 730 x 0.192 = 840.96; 6 x 50 GB gp3 at 0.08 = 24.00
    assert _lines(prod, "care-prod-eks-app") == [
        ("6 x m5.xlarge (desired) x 730 h x 0.192", Decimal("840.96")),
        ("6 x 50 GB gp3 root volume x 0.08", Decimal("24.00"))]
    assert _lines(prod, "care-prod-eks-worker")[0] == ("3 x c5.xlarge (desired) x 730 h x 0.17", Decimal("372.30"))


def test_rds_multi_az_replicas_storage_and_backups(prod: Estimate) -> None:
    assert _lines(prod, "care-prod-prm-primary") == [
        ("db.r5.xlarge Multi-AZ: 730 h x 0.5 x 2", Decimal("730.00")),
        ("200 GB gp3 x 0.115 x 2", Decimal("46.00")),
        ("backups 100 GB beyond the free 200 GB (assumed 1.5 x allocated) x 0.095", Decimal("9.50"))]
    assert _lines(prod, "care-prod-prm-replica-1") == [
        ("db.r5.xlarge read replica of care-prod-prm: 730 h x 0.5", Decimal("365.00")),
        ("200 GB gp3 x 0.115", Decimal("23.00"))]
    assert _lines(prod, "care-prod-nlfhir-primary")[0] == ("db.t4g.medium Multi-AZ: 730 h x 0.065 x 2",
                                                           Decimal("94.90"))
    assert _lines(prod, "care-prod-prm-backup-replication") == [
        ("200 GB replicated backups (assumed) x 0.095", Decimal("19.00")),
        ("200 GB cross-region transfer a month (assumed) x 0.02", Decimal("4.00"))]


def test_cache_streaming_nat_endpoints_keys(prod: Estimate) -> None:
    # 3 shards x (1 primary + 1 replica) = 6 nodes x 730 x 0.206 = 902.28
    assert _lines(prod, "care-prod-redis-group") == [("6 x cache.r6g.large x 730 h x 0.206", Decimal("902.28"))]
    assert _lines(prod, "care-prod-kafka-cluster") == [
        ("3 x kafka.m5.large x 730 h x 0.21", Decimal("459.90")),
        ("3 x 500 GB broker storage x 0.1", Decimal("150.00"))]
    assert _lines(prod, "care-prod-nat-us-east-2a") == [
        ("730 h x 0.045", Decimal("32.85")), ("100 GB processed (assumed) x 0.045", Decimal("4.50"))]
    assert _lines(prod, "care-prod-vpce-kms") == [
        ("3 AZ x 730 h x 0.01", Decimal("21.90")), ("20 GB processed (assumed) x 0.01", Decimal("0.20"))]
    assert _lines(prod, "care-prod-vpce-s3") == [("gateway endpoint: no charge", Decimal("0.00"))]
    assert _lines(prod, "care-prod-kms-database") == [
        ("key-month x 1", Decimal("1.00")), ("100000 requests (assumed) / 10k x 0.03", Decimal("0.30"))]
    assert _lines(prod, "care-prod-chromadb-data") == [("50 GB EBS gp3 volume x 0.08", Decimal("4.00"))]


def test_kafka_t3_small_rounds_half_up_to_the_cent(table: PricingTable) -> None:
    dev = estimate(rendered_stack("dev"), table)
    # 2 x 730 x 0.0456 = 66.576 -> 66.58
    assert _lines(dev, "care-dev-kafka-cluster")[0] == ("2 x kafka.t3.small x 730 h x 0.0456", Decimal("66.58"))


def test_totals_are_sums_of_the_rounded_lines(prod: Estimate) -> None:
    assert prod.total == sum(line.monthly for line in prod.lines)
    assert sum(prod.by_application().values()) == prod.total
    assert sum(prod.by_component().values()) == prod.total


# --- attribution -----------------------------------------------------------------------------------------------

def test_applications_by_name(prod: Estimate) -> None:
    app = {line.name: line.application for line in prod.lines}
    assert app["care-prod-nlfhir-primary"] == "NL-FHIR"
    assert app["care-prod-chromadb-data"] == "NL-FHIR"
    assert app["care-prod-redis-group"] == "PRM"
    assert app["care-prod-kafka-cluster"] == "PRM"
    assert app["care-prod-eks-app"] == SHARED
    assert app["care-prod-kms-database"] == SHARED
    component = {line.name: line.component for line in prod.lines}
    assert component["care-prod-prm-replica-1"] == "care:data:PostgresDatabase care-prod-prm"
    assert component["care-prod-nat-us-east-2a"] == "care:network:Network care-prod"


def test_the_share_splits_the_shared_platform_by_direct_cost(prod: Estimate) -> None:
    direct = prod.by_application()
    nlfhir, prm, shared = direct["NL-FHIR"], direct["PRM"], direct[SHARED]
    expected = (nlfhir + shared * nlfhir / (nlfhir + prm)).quantize(Decimal("0.01"))
    assert prod.share("NL-FHIR") == expected
    assert abs(prod.share("NL-FHIR") + prod.share("PRM") - prod.total) <= Decimal("0.01")


# --- the checks of issue #14 -----------------------------------------------------------------------------------

def test_prod_nlfhir_share_is_under_epic_5s_2000_a_month(prod: Estimate) -> None:
    assert prod.share("NL-FHIR") < Decimal("2000.00"), summary_line(prod)


def test_dev_costs_at_most_a_fifth_of_prod(table: PricingTable, prod: Estimate) -> None:
    dev = estimate(rendered_stack("dev"), table)
    assert dev.total * 5 <= prod.total, f"dev {dev.total} x 5 > prod {prod.total}"


# --- unpriced is never zero ------------------------------------------------------------------------------------

def _plan_with(build_resources: object, stack: str = "test") -> Plan:
    def build() -> None:
        provider = aws.Provider("aws-primary", region="us-east-2")
        build_resources(pulumi.ResourceOptions(provider=provider))  # type: ignore[operator]

    return render(build, stack=stack)


def test_an_unknown_type_and_an_unknown_class_are_listed_as_unpriced(table: PricingTable) -> None:
    def build(opts: pulumi.ResourceOptions) -> None:
        aws.sqs.Queue("q", opts=opts)
        aws.msk.Cluster("k", cluster_name="k", kafka_version="3.9.x", number_of_broker_nodes=2,
                        broker_node_group_info=aws.msk.ClusterBrokerNodeGroupInfoArgs(
                            instance_type="kafka.m9.huge", client_subnets=["a", "b"], security_groups=["sg"],
                            storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoArgs(
                                ebs_storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs(
                                    volume_size=10))), opts=opts)
        aws.kms.Key("key", opts=opts)

    est = estimate(_plan_with(build), table)
    assert [(u.type, u.name, u.reason) for u in est.unpriced] == [
        ("aws:msk/cluster:Cluster", "k", "MSK broker type kafka.m9.huge is not in offline/pricing.yaml"),
        ("aws:sqs/queue:Queue", "q", UNKNOWN_TYPE)]
    assert est.total == Decimal("1.30")  # the key only; the unpriced ones are not counted as anything
    assert summary_line(est) == ("estimate USD 1.30/month (NL-FHIR share USD 0.65); 2 resource(s) UNPRICED "
                                 "(aws:msk/cluster:Cluster, aws:sqs/queue:Queue): the estimate is a lower bound")
    markdown = render_cost_markdown(est, today=datetime.date(2026, 12, 2))
    assert "> **2 resource(s) are UNPRICED** (not counted; the total is a lower bound)" in markdown
    assert "| aws:sqs:Queue q | shared platform | " + UNKNOWN_TYPE + " |" in markdown


def test_a_region_without_prices_is_unpriced(table: PricingTable) -> None:
    def build() -> None:
        provider = aws.Provider("aws-primary", region="eu-central-1")
        aws.kms.Key("key", opts=pulumi.ResourceOptions(provider=provider))

    est = estimate(render(build), table)
    assert [u.reason for u in est.unpriced] == ["no prices for region eu-central-1 in offline/pricing.yaml (regions:)"]


def test_shield_advanced_is_charged_once_per_stack(table: PricingTable) -> None:
    def build(opts: pulumi.ResourceOptions) -> None:
        for name in ("a", "b"):
            aws.shield.Protection(f"shield-{name}", name=name, resource_arn=f"arn:aws:x:::{name}", opts=opts)

    est = estimate(_plan_with(build), table)
    assert [(line.name, line.item, line.monthly) for line in est.lines] == [
        ("shield-a", "Shield Advanced subscription (per organization) x 3000", Decimal("3000.00")),
        ("shield-b", "covered by the Shield Advanced subscription", Decimal("0.00"))]


def test_stale_prices_are_flagged_in_cost_md(prod: Estimate) -> None:
    late = prod.table.refresh_by + datetime.timedelta(days=1)
    assert (f"> WARNING: the pricing table was due for a refresh on {prod.table.refresh_by}: re-check its prices."
            in render_cost_markdown(prod, today=late))
    assert "WARNING" not in render_cost_markdown(prod, today=prod.table.refresh_by)


# --- the pricing table's own errors ----------------------------------------------------------------------------

def test_a_malformed_pricing_table_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "pricing.yaml"
    bad.write_text(PRICING_PATH.read_text().replace("clusterHour: 0.10", "clusterHour: ten"))
    with pytest.raises(PricingError) as caught:
        load_pricing(bad)
    assert str(caught.value) == (f"{bad}: priceSets.us-standard.eks.clusterHour: Input should be a valid "
                                 "decimal (1 problem(s))")
    bad.write_text(PRICING_PATH.read_text().replace("us-east-2: us-standard", "us-east-2: us-cheap"))
    with pytest.raises(PricingError, match=r"regions name price set\(s\) not in priceSets: us-cheap$"):
        load_pricing(bad)
    with pytest.raises(PricingError, match="cannot read the pricing table .*missing.yaml: No such file"):
        load_pricing(tmp_path / "missing.yaml")


# --- budgets against the estimate, and the CLI -----------------------------------------------------------------

def _budget_plan(limit: str) -> Plan:
    def build(opts: pulumi.ResourceOptions) -> None:
        aws.kms.Key("key", opts=opts)
        aws.budgets.Budget("budget", budget_type="COST", limit_amount=limit, limit_unit="USD", time_unit="MONTHLY",
                           opts=opts)

    return _plan_with(build, stack="dev")


def test_a_budget_below_the_estimate_is_refused(table: PricingTable) -> None:
    low = _budget_plan("1.00")
    assert budget_below_estimate(low, estimate(low, table)) == (
        "budget.monthlyLimitUsd is 1.00, below this stack's estimate USD 1.03/month: raise it in Pulumi.dev.yaml "
        "(care-platform:budget.monthlyLimitUsd) to at least 1.03, or cut the estimate (see build/dev/cost.md)")
    enough = _budget_plan("1.03")
    assert budget_below_estimate(enough, estimate(enough, table)) is None


def test_cost_cli_refuses_a_budget_below_the_estimate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "run_stack", lambda stack: _budget_plan("1.00"))
    assert cli.main(["cost", "dev", "--out", str(tmp_path)]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "error: stack dev: budget.monthlyLimitUsd is 1.00, below this stack's estimate USD 1.03/month" in err
    assert not (tmp_path / "dev" / "cost.md").exists()


def test_cost_cli_writes_cost_md_and_prints_the_estimate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "run_stack", lambda stack: _budget_plan("100"))
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "plan.json").write_text("{}")  # `cost` neither writes nor removes the preview's files
    assert cli.main(["cost", "dev", "--out", str(tmp_path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "ok      dev: estimate USD 1.03/month (NL-FHIR share USD 0.52)" in out  # no app cost: shared split evenly
    markdown = (tmp_path / "dev" / "cost.md").read_text()
    assert markdown.startswith("# Monthly cost estimate: stack `dev`\n\n**Total: USD 1.03 a month**")
    assert "| natGatewayGbPerMonth | 20 |" in markdown  # dev's own assumption, not the default 100
    assert (tmp_path / "dev" / "plan.json").read_text() == "{}"


def test_cost_cli_needs_a_stack(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["cost"])
    assert exited.value.code == 2
    assert "python -m offline cost: error: name a stack (dev, staging, prod) or pass --all" in capsys.readouterr().err


@pytest.mark.parametrize("stack", STACKS)
def test_each_stacks_budget_covers_its_estimate(stack: str, table: PricingTable) -> None:
    plan = rendered_stack(stack)
    est = estimate(plan, table)
    [budget] = plan.of_type("aws:budgets/budget:Budget")
    assert Decimal(budget.inputs["limitAmount"]) >= est.total, summary_line(est)
    assert budget_below_estimate(plan, est) is None


def test_the_readme_estimates_are_the_current_ones(table: PricingTable) -> None:
    from offline.stackfile import ROOT

    readme = (ROOT / "README.md").read_text()
    for stack in STACKS:
        est = estimate(rendered_stack(stack), table)
        row = f"| {stack} | {usd(est.total)} | {usd(est.share('NL-FHIR'))} |"
        assert row in readme, f"README.md's Cost table is stale: expected a row starting {row}"


def test_the_audit_baseline_is_priced_from_stated_volumes(table: PricingTable) -> None:
    def build(opts: pulumi.ResourceOptions) -> None:
        aws.eks.NodeGroup("nodes", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s"],
                          instance_types=["m5.xlarge"], scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                              desired_size=6, min_size=3, max_size=12), opts=opts)
        aws.cfg.Recorder("recorder", role_arn="arn:aws:iam::1:role/config", opts=opts)
        detector = aws.guardduty.Detector("detector", enable=True, opts=opts)
        for feature in ("RUNTIME_MONITORING", "RDS_LOGIN_EVENTS"):
            aws.guardduty.DetectorFeature(f"gd-{feature.lower()}", detector_id=detector.id, name=feature,
                                          status="ENABLED", opts=opts)

    est = estimate(_plan_with(build), table)
    lines = {(line.name, line.item): line.monthly for line in est.lines}
    assert lines[("recorder", "5000 configuration items (assumed) x 0.003")] == Decimal("15.00")
    assert lines[("detector", "2000000 CloudTrail events analysed (assumed) / 1M x 4")] == Decimal("8.00")
    assert lines[("detector", "50 GB flow and DNS logs analysed (assumed) x 1")] == Decimal("50.00")
    # 6 x m5.xlarge = 24 vCPUs x 1.50
    assert lines[("gd-runtime_monitoring", "runtime monitoring 24 node vCPUs (desired) x 1.5")] == Decimal("36.00")
    assert [(u.name, u.reason) for u in est.unpriced] == [
        ("gd-rds_login_events", "GuardDuty feature RDS_LOGIN_EVENTS has no price in offline/pricing.yaml (guardduty:)")]
