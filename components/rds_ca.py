"""The Amazon RDS root CAs the apps and the bootstrap Jobs verify the database's certificate against.

RDS signs each instance's server certificate with the CA named by ``ca_cert_identifier``; the root of
``rds-ca-rsa2048-g1`` in region R is "Amazon RDS R Root CA RSA2048 G1"
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html, "Certificate authorities").
Clients that verify it (``sslmode=verify-full``: the chain and the host name,
https://www.postgresql.org/docs/current/libpq-ssl.html) need that root: ``bundle_for`` picks, from the vendored
bundle (components/certs/rds-ca-bundle.pem, its provenance in components/certs/README.md), the three G1 roots
of each region the databases may run in (the primary and, after a disaster-recovery restore, the DR region), so
that switching ``CA_CERT_IDENTIFIER`` between the G1 CAs needs no new bundle.

Each certificate in the file is preceded by ``# <subject CN>``; tests/components/test_rds_ca.py checks those
lines against the certificates themselves, so selecting by them here needs no X.509 parser at run time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "certs" / "rds-ca-bundle.pem"
#: The CA every instance and replica uses (rotates server certificates automatically).
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
#: ``ca_cert_identifier`` -> the suffix of its root's common name.
G1_ROOTS = {"rds-ca-rsa2048-g1": "RSA2048 G1", "rds-ca-rsa4096-g1": "RSA4096 G1", "rds-ca-ecc384-g1": "ECC384 G1"}

_ENTRY = re.compile(r"# (?P<cn>[^\n]+)\n# SHA-256 [0-9a-f]{64}\n(?P<pem>-----BEGIN CERTIFICATE-----\n"
                    r"[A-Za-z0-9+/=\n]+?-----END CERTIFICATE-----\n)")


@cache
def certificates() -> dict[str, str]:
    """The vendored certificates by subject common name (PEM text)."""
    return {m["cn"]: m["pem"] for m in _ENTRY.finditer(BUNDLE.read_text())}


def root_name(region: str, ca_cert_identifier: str) -> str:
    return f"Amazon RDS {region} Root CA {G1_ROOTS[ca_cert_identifier]}"


def bundle_for(regions: Sequence[str]) -> str:
    """The PEM bundle of the G1 roots of ``regions``; a region the vendored file lacks is an error."""
    certs = certificates()
    names = [root_name(region, ca) for region in dict.fromkeys(regions) for ca in G1_ROOTS]
    missing = [n for n in names if n not in certs]
    if missing:
        raise ValueError(f"{BUNDLE.name} lacks {', '.join(missing)}: refresh it (components/certs/README.md)")
    return "".join(certs[n] for n in names)
