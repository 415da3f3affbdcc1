"""components/egress.py: egress rules, the metadata carve-out, and named external destinations from config."""

from __future__ import annotations

import pytest

from components.app_service.config import EgressDestinationConfig
from components.egress import Destination


def test_a_range_containing_the_metadata_service_carves_it_out() -> None:
    rule = Destination("partner API", (443,), ("0.0.0.0/0", "203.0.113.0/24")).rule()
    assert [(p.ip_block.cidr, p.ip_block.except_) for p in rule.to] == [  # type: ignore[union-attr]
        ("0.0.0.0/0", ["169.254.169.254/32"]), ("203.0.113.0/24", None)]
    assert [(p.protocol, p.port) for p in rule.ports] == [("TCP", 443)]  # type: ignore[union-attr]
    link_local = Destination("link-local", (80,), ("169.254.0.0/16",)).rule()
    assert link_local.to[0].ip_block.except_ == ["169.254.169.254/32"]  # type: ignore[index,union-attr]


def test_a_peer_destination_selects_namespace_and_pods() -> None:
    rule = Destination("ChromaDB", (8000,), peer_namespace="nlfhir",
                       peer_labels={"app.kubernetes.io/name": "chromadb"}).rule()
    peer = rule.to[0]  # type: ignore[index]
    assert peer.namespace_selector.match_labels == {"kubernetes.io/metadata.name": "nlfhir"}  # type: ignore[union-attr]
    assert peer.pod_selector.match_labels == {"app.kubernetes.io/name": "chromadb"}  # type: ignore[union-attr]


def test_an_external_destination_needs_a_name_a_range_and_a_reason() -> None:
    good = EgressDestinationConfig.model_validate({"name": "terminology", "cidr": "203.0.113.0/24",
                                                   "why": "SNOMED lookups"})
    assert (good.ports, str(good.cidr)) == ((443,), "203.0.113.0/24")
    with pytest.raises(ValueError, match="why"):
        EgressDestinationConfig.model_validate({"name": "x", "cidr": "203.0.113.0/24"})
