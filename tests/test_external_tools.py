"""The real-tool tests fail closed: without promtool/amtool they skip locally with how to install them, and fail
when CI is set."""

from __future__ import annotations

import pytest

from tests import external_tools


def test_missing_tool_skips_locally_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(external_tools.shutil, "which", lambda tool: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        external_tools.require("promtool")
    assert str(info.value) == ("promtool is not installed; install it with `apt-get install -y prometheus` "
                               "(.ci/run does this in CI)")


def test_missing_tool_fails_in_ci(monkeypatch):
    monkeypatch.setattr(external_tools.shutil, "which", lambda tool: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        external_tools.require("amtool")
    assert str(info.value) == ("CI: amtool is not installed; install it with `apt-get install -y "
                               "prometheus-alertmanager` (.ci/run does this in CI)")
