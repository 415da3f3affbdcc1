"""The ratchet itself (fast, in the normal suite): it fails when the score drops, falls under the floor,
or cannot be computed; the recorded score is the real one and meets the floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mutation import ratchet


def _results(root: Path, codes: list[int | None], package: str = "policies") -> Path:
    meta = root / "mutants" / package / "stack.py.meta"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"exit_code_by_key": {f"{package}.stack.x_f__mutmut_{i}": c
                                                     for i, c in enumerate(codes)}}))
    return root / "mutants"


def _recorded(root: Path, killed: int, total: int) -> Path:
    path = root / "score.json"
    path.write_text(json.dumps({"package": "policies/", "killed": killed, "total": total,
                                "score": round(killed / total, 4)}))
    return path


def test_the_score_counts_killed_timeouts_and_type_check_catches_over_all_but_skipped(tmp_path: Path) -> None:
    mutants = _results(tmp_path, [1, 1, 3, 36, 37, 0, 33, 34, -11, 35])
    assert ratchet.score(ratchet.statuses(mutants)) == {
        "package": "policies/", "killed": 5, "total": 9, "score": 0.5556,
        "statuses": {"caught by type check": 1, "killed": 3, "no tests": 1, "segfault": 1, "skipped": 1,
                     "survived": 1, "suspicious": 1, "timeout": 1}}


def test_only_the_policies_results_count(tmp_path: Path) -> None:
    _results(tmp_path, [0, 0, 0], package="offline")
    mutants = _results(tmp_path, [1] * 10)
    assert ratchet.score(ratchet.statuses(mutants))["score"] == 1.0


@pytest.mark.parametrize(("codes", "killed", "total", "rc", "message"), [
    ([1] * 19 + [0], 19, 20, 0, "mutation ratchet: policies/ 19/20 = 95.00% (recorded 95.00%): ok"),
    ([1] * 20, 19, 20, 0, "mutation ratchet: policies/ 20/20 = 100.00% (recorded 95.00%): ok"),
    ([1] * 18 + [0, 0], 19, 20, 1, "mutation ratchet: the mutation score of policies/ dropped: 18/20 = 90.00% < "
     "the recorded 19/20 = 95.00%; kill the new survivors (`mutmut results`) or explain in review why the score "
     "may drop"),
    ([1] * 8 + [0, 0], 8, 10, 1, "mutation ratchet: the mutation score of policies/ is 80.00%, under the 90% floor"),
    ([1] * 19 + [None], 19, 20, 1, "mutation ratchet: 1 mutant(s) of policies/ were not checked: the mutmut run "
     "did not finish"),
], ids=["same", "better", "dropped", "under-floor", "unfinished"])
def test_the_ratchet(tmp_path: Path, capsys: pytest.CaptureFixture[str], codes: list[int | None], killed: int,
                     total: int, rc: int, message: str) -> None:
    mutants, recorded = _results(tmp_path, codes), _recorded(tmp_path, killed, total)
    assert ratchet.main(["--mutants", str(mutants), "--score-file", str(recorded)]) == rc
    out, err = capsys.readouterr()
    assert (out if rc == 0 else err).strip() == message


def test_missing_results_or_score_fail_closed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ratchet.main(["--mutants", str(tmp_path / "mutants"), "--score-file", str(tmp_path / "s.json")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"mutation ratchet: no mutmut results under {tmp_path / 'mutants' / 'policies'}: run `make mutation` "
        "(mutmut run) first")
    mutants = _results(tmp_path, [1] * 10)
    assert ratchet.main(["--mutants", str(mutants), "--score-file", str(tmp_path / "s.json")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"mutation ratchet: no recorded score in {tmp_path / 's.json'}: run with --record")
    assert ratchet.main(["--mutants", str(mutants), "--score-file", str(tmp_path / "s.json"), "--record"]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["score"] == 1.0


def test_the_recorded_score_meets_the_floor() -> None:
    recorded = json.loads(ratchet.SCORE_FILE.read_text())
    assert recorded["package"] == "policies/"
    assert recorded["score"] == round(recorded["killed"] / recorded["total"], 4) >= ratchet.FLOOR
    assert sum(n for s, n in recorded["statuses"].items() if s != "skipped") == recorded["total"]
