"""Put ``policies/deploy`` on sys.path (as the engine does) before the test modules import its modules."""

import tests.policies.deploy.support  # noqa: F401
