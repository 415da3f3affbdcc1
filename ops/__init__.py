"""Operations toolkit for a live account: backup audit, DR and failover drills, go-live readiness, capacity.

Run it as ``python -m ops <command> --stack <stack> ...`` (see ``docs/onboarding.md``).
"""
