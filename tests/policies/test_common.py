"""The pack's shared helpers, pinned one behaviour at a time (they decide what every policy sees)."""

from __future__ import annotations

import common
import pytest
import registry_doc

from tests.policies.support import U, check

UNKNOWN = common.UNKNOWN


def test_the_unknown_sentinel_propagates_and_is_one_object() -> None:
    assert common._Unknown() is UNKNOWN and repr(UNKNOWN) == "UNKNOWN" and bool(UNKNOWN) is True
    assert UNKNOWN.get("a") is UNKNOWN and UNKNOWN["a"] is UNKNOWN and UNKNOWN.get("a", 1) is UNKNOWN
    assert list(UNKNOWN) == [] and list(UNKNOWN.items()) == [] and list(UNKNOWN.values()) == []
    assert ("x" in UNKNOWN) is False
    assert common.is_unknown(UNKNOWN) and not common.is_unknown(None) and not common.is_unknown("UNKNOWN")


def test_get_walks_dotted_paths() -> None:
    props = {"a": {"b": {"c": 1}, "n": None}, "u": UNKNOWN, "l": [1]}
    assert common.get(props, "a.b.c") == 1
    assert common.get(props, "a.b") == {"c": 1}
    assert common.get(props, "a.x", "d") == "d" and common.get(props, "a.n", "d") == "d"
    assert common.get(props, "u.b") is UNKNOWN and common.get(props, "u") is UNKNOWN
    assert common.get(props, "l.0", "d") == "d"  # lists are not walked by index
    assert common.get(props, "a.b.c.d", "d") == "d"


def test_list_bool_int_and_json_helpers() -> None:
    assert common.as_list(None) == [] and common.as_list(UNKNOWN) is UNKNOWN
    assert common.as_list([1, 2]) == [1, 2] and common.as_list("x") == ["x"]
    assert [common.is_true(v) for v in (True, "true", "True", "TRUE", 1, "yes", False, None, UNKNOWN)] == [
        True, True, True, True, False, False, False, False, False]
    assert [common.is_false(v) for v in (False, "false", "False", 0, "no", True, None, UNKNOWN)] == [
        True, True, True, False, False, False, False, False]
    assert [common.as_int(v) for v in (3, 3.9, "7", "7.0", "x", None, UNKNOWN, True, [1])] == [
        3, 3, 7, 7, None, None, None, None, None]
    assert common.parse_json('{"a": 1}') == {"a": 1} and common.parse_json({"a": 1}) == {"a": 1}
    assert [common.parse_json(v) for v in (None, UNKNOWN, "not json", 5, ["a"])] == [None] * 5
    assert common.has_unknown({"a": [1, {"b": UNKNOWN}]}) and common.has_unknown(UNKNOWN)
    assert not common.has_unknown({"a": [1, {"b": 2}], "c": "x"})


@pytest.mark.parametrize(("value", "customer"), [
    ("arn:aws:kms:us-east-2:1:key/abc", True), ("abc-123", True), ("alias/care/prod/database", True),
    ("alias/aws/rds", False), ("arn:aws:kms:us-east-2:1:alias/aws/s3", False), ("", False), (None, False),
    (UNKNOWN, False), ("alias/awsome", True)])
def test_customer_managed_keys(value: object, customer: bool) -> None:
    assert common.is_customer_managed_key(value) is customer


def test_plain_unwraps_unknowns_in_nested_values() -> None:
    found = check("k8s-image-pinned", "kubernetes:core/v1:Pod", {"spec": {"containers": [{"name": "a", "image": U}]}})
    assert found == []


def _res(name: str, props: dict, **kwargs: object) -> common.Resource:
    return common.Resource(type="aws:s3/bucket:Bucket", props=props, name=name, urn=f"urn:{name}", **kwargs)


def test_resource_identities_and_references() -> None:
    bucket = _res("b", {"bucket": "data", "arn": "arn:aws:s3:::data", "id": "", "name": 5})
    assert bucket.identities() == {"data", "arn:aws:s3:::data"}
    by_value = _res("p", {"bucket": "arn:aws:s3:::data"})
    assert by_value.refers_to(bucket, "bucket")
    assert _res("p", {"bucket": "data"}).refers_to(bucket, "bucket")
    assert _res("p", {"bucket": "prefix/data"}).refers_to(bucket, "bucket")
    assert not _res("p", {"bucket": "other-data"}).refers_to(bucket, "bucket")
    assert not _res("p", {"bucket": "data"}).refers_to(bucket, "other")
    unknown = _res("p", {"bucket": UNKNOWN}, dependencies=["urn:b"])
    assert unknown.refers_to(bucket, "bucket") and not _res("p", {"bucket": UNKNOWN}).refers_to(bucket, "bucket")
    by_property = _res("p", {"bucket": "data"}, property_dependencies={"other": ["urn:b"]}, dependencies=["urn:b"])
    assert not by_property.refers_to(bucket, "bucket") and by_property.refers_to(bucket, "other")
    assert by_property.depends_on(bucket) and by_property.depends_on(bucket, "other")
    assert not by_property.depends_on(bucket, "bucket")
    assert _res("p", {}, dependencies=["urn:b"]).depends_on(bucket, "bucket")
    assert not _res("p", {}).depends_on(bucket)
    assert _res("p", {}, provider_props={"region": "us-west-2"}).region == "us-west-2"
    assert _res("p", {}).region is None


def test_settings_merge_defaults_with_the_given_config() -> None:
    schema = {"minRetentionDays": {"type": "integer", "default": 30}, "flag": {"type": "boolean"}}
    assert common._settings(schema, None) == {"minRetentionDays": 30, "flag": None}
    assert common._settings(schema, {"minRetentionDays": 7, "unknown": 1}) == {"minRetentionDays": 7, "flag": None}
    assert common._settings(schema, {"minRetentionDays": None, "flag": False}) == {"minRetentionDays": 30,
                                                                                    "flag": False}


def test_of_type_and_is_replica() -> None:
    a, b = _res("a", {}), common.Resource(type="aws:kms/key:Key", props={}, name="k", urn="urn:k")
    assert list(common.of_type([a, b], "aws:kms/key:Key")) == [b]
    assert list(common.of_type([a, b], "aws:kms/key:Key", "aws:s3/bucket:Bucket")) == [a, b]
    assert common.is_replica(_res("r", {"replicateSourceDb": "care-prod-prm"}))
    assert common.is_replica(_res("r", {"replicateSourceDb": UNKNOWN}))
    assert not common.is_replica(_res("r", {"replicateSourceDb": ""})) and not common.is_replica(_res("r", {}))


def test_registry_doc_levels_and_settings() -> None:
    config = {"all": "advisory", "a": "disabled", "b": {"enforcementLevel": "mandatory", "x": 1}, "c": {"x": 2}}
    assert [registry_doc.level(config, p) for p in ("a", "b", "c", "d")] == ["disabled", "mandatory", "advisory",
                                                                             "advisory"]
    assert registry_doc.level({}, "d") == "mandatory"
    assert [registry_doc.settings(config, p) for p in ("a", "b", "c", "d")] == [{}, {"x": 1}, {"x": 2}, {}]
    assert registry_doc._cell("dev", config, "b") == 'mandatory (x=1)'
    assert registry_doc._cell("dev", config, "a") == "disabled"


def test_registry_doc_check_and_rewrite(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    assert registry_doc.main(["--check"]) == 0
    stale = tmp_path / "README.md"
    stale.write_text(f"# pack\n\nintro\n{registry_doc.BEGIN}\nold table\n{registry_doc.END}\n\ntail\n")
    monkeypatch.setattr(registry_doc, "README", stale)
    assert registry_doc.main(["--check"]) == 1
    assert capsys.readouterr().err == "policies/README.md is out of date: run python policies/registry_doc.py\n"
    assert "old table" in stale.read_text()
    assert registry_doc.main([]) == 0
    rewritten = stale.read_text()
    assert rewritten.startswith(f"# pack\n\nintro\n{registry_doc.BEGIN}\n| Policy | Concern | Kind |")
    assert rewritten.endswith(f"|\n{registry_doc.END}\n\ntail\n") and "old table" not in rewritten
    assert registry_doc.main(["--check"]) == 0
