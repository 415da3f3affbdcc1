"""The policy packs the offline preview runs, and the checks that each one is really there.

``PACKS`` is the one list: every entry is started for every stack, configured from its
``config/<stack>.json``, printed in its own section, written to its own report and counted in the exit
code, exactly as ``pulumi preview --policy-pack <dir> --policy-pack-config <dir>/config/<stack>.json``
repeated per pack. Adding a pack is one line here.

Fail closed: a pack that is missing (no directory, no ``PulumiPolicy.yaml``) is a failure, never a note;
and a pack that registers fewer policies than it declares (its ``REGISTRY`` and the policy table in its
``README.md``, where it has them) is a failure that names the missing policies: a module that stopped
loading must not quietly shrink the gate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from offline.policy import PolicyPackError, PolicyPackSession
from offline.stackfile import ROOT

__all__ = ["PACKS", "PackMissingError", "PackSpec", "declared_policies", "started_packs"]


@dataclass(frozen=True)
class PackSpec:
    #: The pack's directory relative to the project root, as ``--policy-pack <directory>`` takes it.
    directory: str
    #: Its report's file name in ``build/<stack>/``.
    report: str

    def path(self, root: Path = ROOT) -> Path:
        return root / self.directory

    def config_path(self, stack: str, root: Path = ROOT) -> Path:
        return self.path(root) / "config" / f"{stack}.json"


#: Every pack the preview runs, in order: the HIPAA pack, then the deploy stage (AWS API rules and
#: version lifecycles). Another pack is one more line.
PACKS: tuple[PackSpec, ...] = (
    PackSpec("policies", "compliance.md"),
    PackSpec("policies/deploy", "deploy.md"),
)

TABLE_BEGIN, TABLE_END = "<!-- policy-table:begin -->", "<!-- policy-table:end -->"
_TABLE_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


class PackMissingError(PolicyPackError):
    """A pack of ``PACKS`` is not there: the stack was not checked, which is a failure."""


def readme_policies(pack_dir: Path) -> set[str] | None:
    """The policy names in the pack README's generated table (``None`` when it has no such table)."""
    readme = pack_dir / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text()
    if TABLE_BEGIN not in text or TABLE_END not in text:
        return None
    table = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    return {m.group(1) for line in table.splitlines() if (m := _TABLE_ROW.match(line))}


def declared_policies(pack_dir: Path, label: str) -> tuple[set[str], list[str]]:
    """The policies a pack declares, and where: its ``REGISTRY`` (read in a child process, as the report
    does) and its README's policy table. Empty when the pack declares nothing (then nothing is checked)."""
    from offline.compliance import load_registry

    names: set[str] = set()
    sources = []
    registry = set(load_registry(pack_dir)["policies"])
    if registry:
        names |= registry
        sources.append(f"its registry ({len(registry)})")
    table = readme_policies(pack_dir)
    if table:
        names |= table
        sources.append(f"{label}/README.md's table ({len(table)})")
    return names, sources


def check_complete(session: PolicyPackSession, spec: PackSpec, root: Path = ROOT) -> None:
    """Fail when the running pack registered fewer policies than it declares."""
    registered = {p.name for p in session.policies}
    declared, sources = declared_policies(spec.path(root), spec.directory)
    missing = sorted(declared - registered)
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise PolicyPackError(
            f"policy pack {session.pack_name} ({spec.directory}/) registers {len(registered)} policies but "
            f"declares {len(declared)} ({' and '.join(sources)}): {shown} not registered; check that "
            f"{spec.directory}/__main__.py loads every module. This is not a pass")


def check_present(spec: PackSpec, root: Path = ROOT) -> None:
    pack_dir = spec.path(root)
    if not pack_dir.is_dir():
        raise PackMissingError(f"policy pack {spec.directory}/ is missing: the stack cannot be checked; "
                               "this is not a pass")
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise PackMissingError(f"policy pack {spec.directory}/ has no PulumiPolicy.yaml: the stack cannot be "
                               "checked; this is not a pass")


@contextmanager
def started_packs(stack: str, *, project: str, config_values: dict[str, str], secret_keys: Sequence[str],
                  packs: Sequence[PackSpec] = PACKS,
                  root: Path = ROOT) -> Iterator[list[tuple[PackSpec, PolicyPackSession]]]:
    """Every pack started and configured for ``stack`` (a bad policy config raises here, before any render)
    and checked complete; all stopped on exit."""
    with ExitStack() as stack_of_sessions:
        started = []
        for spec in packs:
            check_present(spec, root)
            session = PolicyPackSession(stack, project=project, pack_dir=spec.path(root),
                                        config_path=spec.config_path(stack, root), config_values=config_values,
                                        config_secret_keys=secret_keys)
            stack_of_sessions.callback(session.close)
            check_complete(session, spec, root)
            started.append((spec, session))
        yield started
