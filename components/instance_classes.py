"""The instance classes AWS really offers, per service and region, for the config models' validators.

A loose pattern (``db.[a-z0-9]+.[a-z0-9]+``) accepts ``db.x99.huge``, which only fails at ``pulumi up``.
These lists come from maintained data instead:

- EC2 (EKS node pools), RDS PostgreSQL (``db.*``) and ElastiCache (``cache.*``): cfn-lint's per-region
  enums (``cfnlint/data/schemas/extensions/aws_ec2_instance/instancetype_enum.json``,
  ``aws_rds_dbinstance/dbinstanceclass_enum.json`` for engine ``postgres``,
  ``aws_elasticache_cachecluster/cachenodetype_enum.json``), which cfn-lint regenerates from the AWS
  pricing and service data with each release (pinned in pyproject.toml).
- MSK (``kafka.*``): cfn-lint ships no MSK list, so the standard broker sizes are listed here from the
  Amazon MSK Developer Guide, "Amazon MSK broker sizes"
  (https://docs.aws.amazon.com/msk/latest/developerguide/broker-instance-sizes.html). Express brokers
  (``express.m7g.*``) are not offered: they have no customer-managed EBS storage, which this program
  configures (``streaming.ebsVolumeGib``).

Each list is loaded once and cached. No network calls: the data ships with the installed packages.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator

Service = Literal["ec2", "rds", "elasticache", "msk"]

#: What each service's classes are called in messages.
SERVICE_NAMES: dict[str, str] = {
    "ec2": "an EC2 instance type", "rds": "an RDS PostgreSQL instance class",
    "elasticache": "an ElastiCache node type", "msk": "an MSK broker type",
}

#: Amazon MSK standard broker sizes (Developer Guide, "Amazon MSK broker sizes"); no region split is published.
MSK_BROKER_TYPES: frozenset[str] = frozenset({
    "kafka.t3.small",
    *(f"kafka.m5.{size}" for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
                                       "24xlarge")),
    *(f"kafka.m7g.{size}" for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")),
})



@cache
def _cfn_lint_data() -> Path:
    """cfn-lint's schema extensions directory, found without importing cfn-lint (1 s of imports)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("cannot check instance classes: cfn-lint is not installed (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas" / "extensions"


def _load(package: str, filename: str) -> dict[str, dict[str, Any]]:
    """A cfn-lint enum file as ``{region: schema}`` (its ``description`` and ``all`` keys dropped)."""
    data = json.loads((_cfn_lint_data() / package / filename).read_text())
    return {k: v for k, v in data.items() if isinstance(v, dict) and k != "all"}


@cache
def by_region(service: Service) -> dict[str, frozenset[str]]:
    """``{region: classes}`` for ``service`` (MSK: the same list under the key ``"*"``)."""
    if service == "msk":
        return {"*": MSK_BROKER_TYPES}
    if service == "ec2":
        data = _load("aws_ec2_instance", "instancetype_enum.json")
        return {region: frozenset(spec["enum"]) for region, spec in data.items()}
    if service == "elasticache":
        data = _load("aws_elasticache_cachecluster", "cachenodetype_enum.json")
        return {region: frozenset(spec["enum"]) for region, spec in data.items()}
    data = _load("aws_rds_dbinstance", "dbinstanceclass_enum.json")
    result: dict[str, frozenset[str]] = {}
    for region, spec in data.items():
        classes: set[str] = set()
        for branch in spec["allOf"]:
            if branch["if"]["properties"].get("Engine", {}).get("const") == "postgres":
                classes |= set(branch["then"]["properties"]["DBInstanceClass"]["enum"])
        result[region] = frozenset(classes)
    return result


@cache
def everywhere(service: Service) -> frozenset[str]:
    """Every class ``service`` offers in any region."""
    return frozenset().union(*by_region(service).values())


def offered_in(service: Service, region: str) -> frozenset[str] | None:
    """The classes ``service`` offers in ``region``; ``None`` when the data has no list for that region."""
    regions = by_region(service)
    return regions.get("*", regions.get(region))


def suggestion(value: str, candidates: frozenset[str]) -> str:
    close = difflib.get_close_matches(value, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def problem(service: Service, value: str, region: str | None = None) -> str | None:
    """Why ``value`` is not a class of ``service`` (in ``region``, if given), or ``None`` when it is."""
    known = everywhere(service)
    if value not in known:
        return f"not {SERVICE_NAMES[service]} AWS offers{suggestion(value, known)}"
    if region is not None:
        offered = offered_in(service, region)
        if offered is not None and value not in offered:
            return f"{SERVICE_NAMES[service]} AWS does not offer in {region}{suggestion(value, offered)}"
    return None


def _validator(service: Service) -> AfterValidator:
    def check(value: str) -> str:
        message = problem(service, value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(check)


#: Config-model field types: a class the service really offers (in some region; config.py checks the stack's).
Ec2InstanceType = Annotated[str, _validator("ec2")]
RdsInstanceClass = Annotated[str, _validator("rds")]
CacheNodeType = Annotated[str, _validator("elasticache")]
MskBrokerType = Annotated[str, _validator("msk")]
