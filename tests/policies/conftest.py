"""Make the pack's modules importable the way the pack itself imports them (``import encryption``).

Pulumi runs ``policies/__main__.py`` with ``policies/`` as its working directory and first sys.path
entry; the tests do the same here, and import the modules without constructing the PolicyPack (which
would start the analyzer's gRPC server).
"""

import sys
from pathlib import Path

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
if str(POLICIES_DIR) not in sys.path:
    sys.path.insert(0, str(POLICIES_DIR))
