"""The boxes of docs/architecture.md's diagram, one module each, composed by ``__main__.py``.

Why tiers: ``__main__.py`` should read like the diagram (providers, one line per box, exports), while
each box still needs its wiring (which subnets, which keys, which provider, what it waits for).
That wiring lives here, one function per box that creates the box's components and returns a typed,
frozen record of them (``Keys``, ``DataTier``, ``ComputeTier``, ``AppsTier``), so the next box takes
what it needs by name and a type checker sees every use. A tier is deliberately *not* a
``ComponentResource``: that would add a resource per tier and move every URN under it; a tier is
only how the program is organised, the components stay where the stack has always had them.

- ``context.py``  the stack's settings everyone reads (``Stack``) and the explicit providers
- ``security.py`` KMS: the key rings of the primary and DR regions
- ``data.py``     PostgreSQL (PRM, NL-FHIR), Redis, Kafka, S3, AWS Backup
- ``compute.py``  EKS, ChromaDB, the database bootstrap Jobs, Reloader
- ``apps.py``     the app services, bound to their stores by typed bindings
- ``observability.py`` Prometheus, Alertmanager, Grafana, Loki + Alloy, Tempo, dashboards (namespace monitoring)

New tiers (edge, account baseline, delivery) land as one module and one line in
``__main__.py`` each.
"""
