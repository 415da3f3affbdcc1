"""Make the pack's modules importable the way the pack itself imports them (``import encryption``).

Pulumi runs ``policies/__main__.py`` with ``policies/`` as its working directory and first sys.path
entry; the tests do the same (see ``tests.policies.support.load_pack``), and import the modules without
constructing the PolicyPack (which would start the analyzer's gRPC server).
"""

import tests.policies.support  # noqa: F401  (puts policies/ on sys.path and loads the pack's modules)
