"""The offline monthly cost estimate of a rendered plan, from the pricing table (``offline/pricing.yaml``).

Each custom resource of the plan is either priced by the pricer of its type (``PRICERS``: one or more cost
lines, each with the arithmetic written out), explicitly free (``free:`` in the table, with the reason), or
UNPRICED (a type or class the table does not know): an unpriced resource is listed, never counted as zero.
Lines are rounded to the cent (half up) and the totals are sums of the rounded lines.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from offline.engine import STACK_TYPE, Plan, Registration
from offline.pricers import PRICERS as _BASE_PRICERS
from offline.pricers import Context, Pricer, Unpriceable, number
from offline.pricers_audit import AUDIT_PRICERS
from offline.pricing import Assumptions, PricingTable

CENT = Decimal("0.01")
SHARED = "shared platform"
#: Every pricer by resource type: the platform's (offline/pricers.py) and the audit baseline's (pricers_audit.py).
PRICERS: dict[str, Pricer] = {**_BASE_PRICERS, **AUDIT_PRICERS}
UNKNOWN_TYPE = "type neither priced (offline/pricers*.py) nor free (offline/pricing.yaml free:)"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(value: Decimal) -> str:
    return f"USD {value:,.2f}"


@dataclass(frozen=True)
class CostLine:
    urn: str
    type: str
    name: str
    component: str
    application: str
    region: str
    item: str
    monthly: Decimal


@dataclass(frozen=True)
class Unpriced:
    type: str
    name: str
    application: str
    reason: str


@dataclass
class Estimate:
    stack: str
    table: PricingTable
    assumptions: Assumptions
    lines: list[CostLine] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    free_count: int = 0

    @property
    def total(self) -> Decimal:
        return sum((line.monthly for line in self.lines), Decimal("0.00"))

    def _grouped(self, key: Callable[[CostLine], str]) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
        for line in self.lines:
            sums[key(line)] += line.monthly
        return dict(sorted(sums.items(), key=lambda kv: (-kv[1], kv[0])))

    def by_application(self) -> dict[str, Decimal]:
        """Direct costs of NL-FHIR, PRM and the shared platform (every application present, even at 0)."""
        sums = {app: Decimal("0.00") for app in [*self.table.applications, SHARED]}
        sums.update(self._grouped(lambda line: line.application))
        return sums

    def by_component(self) -> dict[str, Decimal]:
        return self._grouped(lambda line: line.component)

    def share(self, application: str) -> Decimal:
        """``application``'s direct cost plus its part of the shared platform, split between the applications
        in proportion to their direct costs (proportional showback), to the cent."""
        direct = self.by_application()
        apps = {app: direct[app] for app in self.table.applications}
        base = sum(apps.values(), Decimal("0"))
        if not base:
            return cents(direct[SHARED] / len(apps)) if apps else Decimal("0.00")
        return cents(apps[application] + direct[SHARED] * apps[application] / base)

    def unpriced_types(self) -> list[str]:
        return sorted({u.type for u in self.unpriced})


# --- attribution and the estimate ----------------------------------------------------------------------------

def _ancestors(plan: Plan, resource: Registration) -> list[Registration]:
    by_urn = {r.urn: r for r in plan.resources}
    chain, parent = [], resource.parent
    while parent in by_urn:
        chain.append(by_urn[parent])
        parent = by_urn[parent].parent
    return chain


def component_of(plan: Plan, resource: Registration) -> str:
    """The nearest enclosing component (``care:data:PostgresDatabase care-prod-prm``), or ``(stack)``."""
    for ancestor in _ancestors(plan, resource):
        if not ancestor.custom and ancestor.type != STACK_TYPE:
            return f"{ancestor.type} {ancestor.name}"
    return "(stack)"


def application_of(plan: Plan, resource: Registration, rules: dict[str, list[str]]) -> str:
    """The first application whose words appear among the ``-``/``.``-separated words of the resource's name or
    an ancestor's name (after the ``care-<stack>-`` prefix); else the shared platform."""
    prefix = f"care-{plan.stack}-"
    words: set[str] = set()
    for name in [resource.name, *(a.name for a in _ancestors(plan, resource))]:
        words.update(re.split(r"[-./_]", name.removeprefix(prefix)))
    for application, markers in rules.items():
        if words.intersection(markers):
            return application
    return SHARED


def _provider_regions(plan: Plan) -> tuple[dict[str, str], str]:
    regions = {f"{r.urn}::{r.id}": str(r.inputs.get("region")) for r in plan.of_type("pulumi:providers:aws")}
    primary = next((str(r.inputs.get("region")) for r in plan.of_type("pulumi:providers:aws")
                    if r.name == "aws-primary"), next(iter(regions.values()), "us-east-1"))
    return regions, primary


def estimate(plan: Plan, table: PricingTable, pricers: dict[str, Pricer] | None = None) -> Estimate:
    pricers = PRICERS if pricers is None else pricers
    assumptions = table.assumptions_for(plan.stack)
    regions, primary = _provider_regions(plan)
    ctx = Context(plan, table, assumptions, table.hours_per_month, regions, primary)
    result = Estimate(plan.stack, table, assumptions)
    for resource in sorted((r for r in plan.resources if r.custom), key=lambda r: r.urn):
        application = application_of(plan, resource, table.applications)
        pricer = pricers.get(resource.type)
        if pricer is None:
            if resource.type in table.free:
                result.free_count += 1
            else:
                result.unpriced.append(Unpriced(resource.type, resource.name, application, UNKNOWN_TYPE))
            continue
        try:
            items = pricer(resource, ctx)
        except Unpriceable as exc:
            result.unpriced.append(Unpriced(resource.type, resource.name, application, str(exc)))
            continue
        component, region = component_of(plan, resource), ctx.region_of(resource)
        result.lines.extend(CostLine(resource.urn, resource.type, resource.name, component, application, region,
                                     item, cents(amount)) for item, amount in items)
    return result


def unknown_types(plans: Iterable[Plan], table: PricingTable, pricers: dict[str, Pricer] | None = None) -> list[str]:
    """Custom resource types of ``plans`` that are neither priced nor listed as free."""
    pricers = PRICERS if pricers is None else pricers
    return sorted({r.type for plan in plans for r in plan.resources
                   if r.custom and r.type not in pricers and r.type not in table.free})


BUDGET_TYPE = "aws:budgets/budget:Budget"


def budget_below_estimate(plan: Plan, est: Estimate) -> str | None:
    """One line when a monthly USD cost budget of the plan is below the estimate (a budget that would be 100 %
    spent by design); None when every budget covers it or the plan has none (the budgets policy flags that)."""
    for budget in plan.of_type(BUDGET_TYPE):
        inputs = budget.inputs
        if inputs.get("budgetType") != "COST" or inputs.get("limitUnit") != "USD":
            continue
        limit = number(inputs.get("limitAmount"), "limitAmount")
        if limit < est.total:
            lower = " (a lower bound: some resources are unpriced)" if est.unpriced else ""
            return (f"budget.monthlyLimitUsd is {limit:,.2f}, below this stack's estimate {usd(est.total)}/month"
                    f"{lower}: raise it in Pulumi.{plan.stack}.yaml (care-platform:budget.monthlyLimitUsd) to at "
                    f"least {est.total:,.2f}, or cut the estimate (see build/{plan.stack}/cost.md)")
    return None
