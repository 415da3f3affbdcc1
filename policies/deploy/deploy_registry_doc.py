"""Regenerate the rule table in policies/deploy/README.md from the registry and config/<stack>.json.

    python policies/deploy/deploy_registry_doc.py          # rewrite the table between the markers
    python policies/deploy/deploy_registry_doc.py --check  # exit 1 if the README is out of date (CI, tests)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import deploy_access  # noqa: E402,F401  (importing a module registers its policies)
import deploy_audit  # noqa: E402,F401
import deploy_cfnlint  # noqa: E402,F401
import deploy_cost  # noqa: E402,F401
import deploy_edge  # noqa: E402,F401
import deploy_ordering  # noqa: E402,F401
import deploy_releases  # noqa: E402,F401
import deploy_versions  # noqa: E402,F401
import deploy_workloads  # noqa: E402,F401
import readme_table  # noqa: E402  (policies/readme_table.py: deploy_common, imported above, put policies/ on sys.path)
from deploy_common import CONCERNS, REGISTRY  # noqa: E402
from readme_table import check_or_write, enforcement_level  # noqa: E402

STACKS = ("dev", "staging", "prod")
BEGIN, END = "<!-- deploy-table:begin -->", "<!-- deploy-table:end -->"
README = HERE / "README.md"


def level(config: dict, policy: str) -> str:
    """The level the engine applies: the named entry, else ``all``, else the policy's default."""
    return enforcement_level(config, policy, REGISTRY[policy].level)


def table() -> str:
    configs = {s: json.loads((HERE / "config" / f"{s}.json").read_text()) for s in STACKS}
    rows = ["| Policy | Concern | Kind | What it checks | dev | staging | prod | Source |",
            "|---|---|---|---|---|---|---|---|"]
    for info in sorted(REGISTRY.values(), key=lambda i: (CONCERNS.index(i.concern), i.name)):
        levels = " | ".join(level(configs[s], info.name) for s in STACKS)
        rows.append(f"| `{info.name}` | {info.concern} | {info.kind} | {info.description} | {levels} | "
                    f"<{info.source}> |")
    return "\n".join(rows)


def render(readme: str) -> str:
    return readme_table.render(readme, BEGIN, END, table())


def main(argv: list[str]) -> int:
    return check_or_write(README, render, argv, shown="policies/deploy/README.md",
                          generator="policies/deploy/deploy_registry_doc.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
