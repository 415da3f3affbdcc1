"""Real tools the tests run (promtool, amtool): found on PATH, or a skip locally and a failure in CI.

``.ci/run`` installs them (Debian's ``prometheus`` and ``prometheus-alertmanager``); a CI run without them must
fail, never pass by skipping (CI sets ``CI``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: The Debian package of each tool.
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path:
        return path
    message = (f"{tool} is not installed; install it with `apt-get install -y {PACKAGES[tool]}` "
               "(.ci/run does this in CI)")
    if os.environ.get("CI"):
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def run(tool: str, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require(tool), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120,
                          check=False)
