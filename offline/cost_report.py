"""``build/<stack>/cost.md``: the estimate by application, by component and by resource, with the assumptions;
and the one-line summary the preview and ``offline cost`` print."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from offline.cost import SHARED, Estimate, usd
from offline.output import short_type

NLFHIR = "NL-FHIR"
#: Epic 5's "Cost & Efficiency Metrics": under USD 2,000 a month for the initial NL-FHIR deployment.
NLFHIR_LIMIT = Decimal("2000.00")


def summary_line(est: Estimate) -> str:
    """``estimate USD 4,882.35/month (NL-FHIR share USD 167.45)`` plus the unpriced count when there is any."""
    text = f"estimate {usd(est.total)}/month (NL-FHIR share {usd(est.share(NLFHIR))})"
    if est.unpriced:
        text += (f"; {len(est.unpriced)} resource(s) UNPRICED ({', '.join(est.unpriced_types())}): "
                 "the estimate is a lower bound")
    return text


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: set[int]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def render_cost_markdown(est: Estimate, *, today: datetime.date | None = None) -> str:
    today = today or datetime.date.today()
    table = est.table
    out = [f"# Monthly cost estimate: stack `{est.stack}`", "",
           f"**Total: {usd(est.total)} a month** (on-demand list prices, {table.hours_per_month} hours a month; "
           f"prices recorded {table.recorded} in `offline/pricing.yaml`, each with its source URL there).", ""]
    if today > table.refresh_by:
        out += [f"> WARNING: the pricing table was due for a refresh on {table.refresh_by}: re-check its prices.", ""]
    if est.unpriced:
        out += [f"> **{len(est.unpriced)} resource(s) are UNPRICED** (not counted; the total is a lower bound): "
                f"{', '.join(f'`{t}`' for t in est.unpriced_types())}. See *Unpriced* below.", ""]
    direct = est.by_application()
    out += ["## By application", "",
            "Direct costs by the resource's name or its component's (`applications:` in the pricing table); the "
            "share adds each application's part of the shared platform in proportion to its direct cost.", ""]
    rows = [(app, _money(cost), _money(est.share(app)) if app != SHARED else "")
            for app, cost in direct.items()]
    out += _table(("Application", "Direct USD/month", "Share incl. shared platform USD/month"), rows, {1, 2})
    limit_state = "within" if est.share(NLFHIR) < NLFHIR_LIMIT else "OVER"
    out += ["", f"NL-FHIR share {usd(est.share(NLFHIR))}: {limit_state} Epic 5's USD 2,000/month for the initial "
                "NL-FHIR deployment.", "", "## By component", ""]
    out += _table(("Component", "USD/month"), [(c, _money(v)) for c, v in est.by_component().items()], {1})
    out += ["", "## By resource", ""]
    out += _table(("Resource", "Application", "Region", "Item", "USD/month"),
                  [(f"{short_type(line.type)} {line.name}", line.application, line.region, line.item,
                    _money(line.monthly)) for line in est.lines], {4})
    out += ["", "## Unpriced", ""]
    if est.unpriced:
        out += _table(("Resource", "Application", "Why"),
                      [(f"{short_type(u.type)} {u.name}", u.application, u.reason) for u in est.unpriced], set())
        out += ["", "Price a type in `offline/cost.py` (`PRICERS`, with its prices in `offline/pricing.yaml`) or list "
                    "it under `free:` in `offline/pricing.yaml` with the reason."]
    else:
        out.append(f"None: every resource is priced or free ({est.free_count} free by type, see `free:`).")
    out += ["", "## Assumptions", "",
            "Usage the plan cannot tell (`assumptions:` in `offline/pricing.yaml`, this stack's values):", ""]
    out += _table(("Assumption", "Value"), [(key, f"{value.normalize():f}") for key, value in est.assumptions.rows()],
                  {1})
    out += ["",
            "Also assumed: on-demand prices (no Savings Plans, reservations, free tier or credits); EC2 nodes at the "
            "node groups' desired count; Multi-AZ RDS at twice the Single-AZ instance and storage price; read "
            "replicas with their source's storage; KMS keys at their first-year price (each of the first two "
            "rotations adds USD 1/month); Shield Advanced once per organization; data transfer between AZs and to "
            "the internet is not counted unless named above.", ""]
    return "\n".join(out)
