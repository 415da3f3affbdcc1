"""The documents: every `python -m ops ...` command they show parses with the real parser, every command is
documented, and every link between documents (and to a heading) resolves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ops.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
COMMAND = re.compile(r"python -m ops\b([^`\n]*)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def shown_commands() -> list[tuple[str, str]]:
    found = []
    for path in DOCUMENTS:
        for line in path.read_text().splitlines():
            for match in COMMAND.finditer(line):
                text = match.group(1).split(" #", 1)[0].strip()
                if text.startswith("<command>"):
                    continue  # the synopsis `python -m ops <command> --stack <stack> ...`
                found.append((str(path.relative_to(ROOT)), text))
    return found


COMMANDS = shown_commands()


def test_the_documents_show_every_command() -> None:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    documented = {shlex.split(text)[0] for _, text in COMMANDS if text and not text.startswith("-")}
    assert documented == set(subcommands)
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("where, text", COMMANDS, ids=[f"{w}: {t}" for w, t in COMMANDS])
def test_every_documented_command_parses(where: str, text: str) -> None:
    try:
        build_parser().parse_args(shlex.split(text))
    except SystemExit as exc:
        assert exc.code == 0, f"{where}: `python -m ops {text}` does not parse"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def test_links_between_documents_resolve() -> None:
    broken = []
    for path in DOCUMENTS:
        for target in LINK.findall(path.read_text()):
            if re.match(r"^(https?|mailto):", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []
