"""Session hooks: the CLI end-to-end runs start as soon as their tests are collected (see
tests/test_cli_end_to_end.py), so their renders overlap with the rest of the suite."""

from __future__ import annotations

import sys

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    if any("runs" in getattr(item, "fixturenames", ()) and item.nodeid.startswith("tests/test_cli_end_to_end.py")
           for item in session.items):
        from tests.test_cli_end_to_end import RUNS

        RUNS.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    module = sys.modules.get("tests.test_cli_end_to_end")
    if module is not None:
        module.RUNS.cleanup()
