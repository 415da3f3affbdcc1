"""The generated policy table in a pack's README.md, shared by both packs' generators
(policies/registry_doc.py and policies/deploy/deploy_registry_doc.py): how a level is resolved from a
``--policy-pack-config`` file, how the table is put between its markers, and ``--check`` versus rewrite.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def enforcement_level(config: dict, policy: str, default: str) -> str:
    """The level the engine applies: the named entry, else ``all``, else the policy's default."""
    entry = config.get(policy)
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and "enforcementLevel" in entry:
        return entry["enforcementLevel"]
    return config.get("all", default)


def render(readme: str, begin: str, end: str, table: str) -> str:
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def check_or_write(readme: Path, rendered: Callable[[str], str], argv: list[str], *, shown: str,
                   generator: str) -> int:
    """``--check``: exit 1 when the README is out of date; otherwise rewrite it."""
    current = readme.read_text()
    wanted = rendered(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{shown} is out of date: run python {generator}", file=sys.stderr)
            return 1
        return 0
    readme.write_text(wanted)
    return 0
