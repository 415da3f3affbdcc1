"""The vendored RDS CA bundle: what it claims (comment lines, provenance hash) is what the certificates are."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from components import rds_ca
from components.database import CA_CERT_IDENTIFIER

#: components/certs/README.md: the file as vendored (a changed file must update its provenance).
VENDORED_SHA256 = "fbb1e4ac62efdad3da251cc43fde84d256a3c124770a88a8ada84b358c31e530"


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_the_file_is_the_one_whose_provenance_is_recorded() -> None:
    assert hashlib.sha256(rds_ca.BUNDLE.read_bytes()).hexdigest() == VENDORED_SHA256


def test_every_comment_names_its_certificate_and_every_certificate_is_a_self_signed_ca() -> None:
    text = rds_ca.BUNDLE.read_text()
    certs = x509.load_pem_x509_certificates(text.encode())
    assert len(certs) == len(rds_ca.certificates()) == 87 == text.count("-----BEGIN CERTIFICATE-----")
    for cert in certs:
        cn, fingerprint = _cn(cert), cert.fingerprint(hashes.SHA256()).hex()
        assert f"# {cn}\n# SHA-256 {fingerprint}\n" in text, cn
        assert x509.load_pem_x509_certificate(rds_ca.certificates()[cn].encode()) == cert
        assert cert.issuer == cert.subject and cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        cert.verify_directly_issued_by(cert)  # the signature checks out against its own key


def test_no_certificate_expires_within_a_year() -> None:
    certs = x509.load_pem_x509_certificates(rds_ca.BUNDLE.read_bytes())
    horizon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=365)
    assert min(c.not_valid_after_utc for c in certs) > horizon
    assert min(c.not_valid_after_utc for c in certs).date() == datetime.date(2061, 5, 18)  # the earliest


def test_the_instances_ca_roots_of_the_stack_regions_are_in_the_bundle() -> None:
    assert CA_CERT_IDENTIFIER == "rds-ca-rsa2048-g1"
    bundle = x509.load_pem_x509_certificates(rds_ca.bundle_for(["us-east-2", "us-west-2", "us-east-2"]).encode())
    assert [_cn(c) for c in bundle] == [
        f"Amazon RDS {region} Root CA {kind} G1" for region in ("us-east-2", "us-west-2")
        for kind in ("RSA2048", "RSA4096", "ECC384")]
    assert rds_ca.root_name("us-east-2", CA_CERT_IDENTIFIER) == "Amazon RDS us-east-2 Root CA RSA2048 G1"


def test_a_region_the_bundle_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="rds-ca-bundle.pem lacks Amazon RDS mars-east-1 Root CA RSA2048 G1"):
        rds_ca.bundle_for(["mars-east-1"])


def test_every_rendered_instance_uses_the_ca_whose_roots_the_apps_get() -> None:
    from tests.helpers import rendered_stack

    plan = rendered_stack("prod")
    instances = plan.of_type("aws:rds/instance:Instance")
    assert len(instances) == 4  # prm: primary and 2 read replicas; nlfhir: primary (standbys are no resources)
    assert {r.inputs["caCertIdentifier"] for r in instances} == {CA_CERT_IDENTIFIER}
