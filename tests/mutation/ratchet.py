"""The mutation-score ratchet: `make mutation` runs mutmut, then this, which fails when the score drops.

    .venv/bin/python tests/mutation/ratchet.py            # check mutants/ against tests/mutation/score.json
    .venv/bin/python tests/mutation/ratchet.py --record   # write the current score (only if it did not drop)

The score is computed for policies/ only (the offline CLI is mutated too, but is being rewritten: its
mutants are reported, not ratcheted). Killed counts what mutmut's own score counts: killed, timed out and
caught by the type check. Fail closed: a mutant not checked (an unfinished run), results missing, or a
score under the floor is a failure, never a pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCORE_FILE = Path(__file__).resolve().parent / "score.json"
SCORED = "policies"
FLOOR = 0.90

#: mutmut 3's exit codes (mutmut/stats.py status_by_exit_code); anything else is "suspicious".
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 35: "suspicious",
          36: "timeout", 37: "caught by type check", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          -11: "segfault", -9: "segfault", 2: "interrupted", None: "not checked"}
KILLED = ("killed", "timeout", "caught by type check")


class RatchetError(Exception):
    """The score cannot be computed, or it dropped."""


def statuses(mutants: Path, package: str = SCORED) -> Counter[str]:
    """How many mutants of ``package`` ended in each status, from mutmut's ``*.py.meta`` result files."""
    files = sorted((mutants / package).rglob("*.py.meta"))
    if not files:
        raise RatchetError(f"no mutmut results under {mutants / package}: run `make mutation` (mutmut run) first")
    counts: Counter[str] = Counter()
    for meta in files:
        for code in json.loads(meta.read_text())["exit_code_by_key"].values():
            counts[STATUS.get(code, "suspicious")] += 1
    return counts


def score(counts: Counter[str]) -> dict[str, Any]:
    if counts["not checked"] or counts["interrupted"]:
        raise RatchetError(f"{counts['not checked'] + counts['interrupted']} mutant(s) of {SCORED}/ were not "
                           "checked: the mutmut run did not finish")
    total = sum(n for status, n in counts.items() if status != "skipped")
    killed = sum(counts[s] for s in KILLED)
    if total == 0:
        raise RatchetError(f"mutmut made no mutants of {SCORED}/")
    return {"package": f"{SCORED}/", "killed": killed, "total": total, "score": round(killed / total, 4),
            "statuses": dict(sorted(counts.items()))}


def check(current: dict[str, Any], recorded: dict[str, Any], floor: float = FLOOR) -> list[str]:
    """Why ``current`` fails the ratchet (empty when it passes)."""
    problems = []
    if float(current["score"]) < float(recorded["score"]):
        problems.append(f"the mutation score of {SCORED}/ dropped: {current['killed']}/{current['total']} = "
                        f"{float(current['score']):.2%} < the recorded {recorded['killed']}/{recorded['total']} = "
                        f"{float(recorded['score']):.2%}; kill the new survivors (`mutmut results`) "
                        "or explain in review why the score may drop")
    if float(current["score"]) < floor:
        problems.append(f"the mutation score of {SCORED}/ is {float(current['score']):.2%}, under the "
                        f"{floor:.0%} floor")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's working copy")
    parser.add_argument("--score-file", type=Path, default=SCORE_FILE)
    parser.add_argument("--record", action="store_true", help="write the current score to the score file")
    args = parser.parse_args(argv)
    try:
        current = score(statuses(args.mutants))
        recorded = json.loads(args.score_file.read_text()) if args.score_file.exists() else None
    except (RatchetError, OSError, ValueError, KeyError) as exc:
        print(f"mutation ratchet: {exc}", file=sys.stderr)
        return 1
    shown = f"{current['killed']}/{current['total']} = {float(current['score']):.2%}"
    if recorded is None and not args.record:
        print(f"mutation ratchet: no recorded score in {args.score_file}: run with --record", file=sys.stderr)
        return 1
    problems = check(current, recorded or {"score": 0, "killed": 0, "total": 0})
    if problems:
        for problem in problems:
            print(f"mutation ratchet: {problem}", file=sys.stderr)
        return 1
    if args.record:
        args.score_file.write_text(json.dumps(current, indent=2) + "\n")
        print(f"mutation ratchet: recorded {SCORED}/ {shown} in {args.score_file}")
    else:
        print(f"mutation ratchet: {SCORED}/ {shown} (recorded {float(recorded['score']):.2%}): ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
