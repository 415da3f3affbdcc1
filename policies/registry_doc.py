"""Regenerate the policy table in policies/README.md from the registry and policies/config/<stack>.json.

    python policies/registry_doc.py          # rewrite the table between the markers
    python policies/registry_doc.py --check  # exit 1 if the README is out of date (CI, tests)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import audit_logging  # noqa: E402,F401  (importing a module registers its policies)
import availability  # noqa: E402,F401
import backup  # noqa: E402,F401
import baseline  # noqa: E402,F401
import conformance_rules  # noqa: E402,F401
import cost_controls  # noqa: E402,F401
import encryption  # noqa: E402,F401
import exposure  # noqa: E402,F401
import k8s_workloads  # noqa: E402,F401
import network_access  # noqa: E402,F401
import readme_table  # noqa: E402
import stack  # noqa: E402,F401
import tags  # noqa: E402,F401
import transit  # noqa: E402,F401
from common import CONCERNS, REGISTRY  # noqa: E402
from readme_table import check_or_write, enforcement_level  # noqa: E402

STACKS = ("dev", "staging", "prod")
BEGIN, END = "<!-- policy-table:begin -->", "<!-- policy-table:end -->"
README = HERE / "README.md"


def load_config(stack_name: str) -> dict:
    return json.loads((HERE / "config" / f"{stack_name}.json").read_text())


def level(config: dict, policy: str) -> str:
    """The level the engine applies: the named entry, else ``all``, else the policy's default (mandatory)."""
    return enforcement_level(config, policy, "mandatory")


def settings(config: dict, policy: str) -> dict:
    entry = config.get(policy)
    return {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}


def _cell(stack_name: str, config: dict, policy: str) -> str:
    text = level(config, policy)
    extra = settings(config, policy)
    if extra:
        text += " (" + ", ".join(f"{k}={json.dumps(v)}" for k, v in extra.items()) + ")"
    return text


def table() -> str:
    configs = {s: load_config(s) for s in STACKS}
    rows = ["| Policy | Concern | Kind | What it checks | dev | staging | prod | HIPAA |",
            "|---|---|---|---|---|---|---|---|"]
    ordered = sorted(REGISTRY.values(), key=lambda i: (CONCERNS.index(i.concern), i.kind, i.name))
    for info in ordered:
        levels = " | ".join(_cell(s, configs[s], info.name) for s in STACKS)
        rows.append(f"| `{info.name}` | {info.concern} | {info.kind} | {info.description} | {levels} | "
                    f"{info.citation} {info.safeguard} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    return readme_table.render(readme, BEGIN, END, table())


def main(argv: list[str]) -> int:
    return check_or_write(README, render, argv, shown="policies/README.md", generator="policies/registry_doc.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
