"""``python -m offline promote <app> --from staging --to prod``: the exact edit of Pulumi.prod.yaml."""

from __future__ import annotations

import datetime
import difflib
import shutil
from pathlib import Path

import pytest

import offline.__main__ as cli
from offline.promote import PromotionError, promote
from offline.stackfile import ROOT

DIGEST = "sha256:" + "0123456789abcdef" * 4
STAGING_NLFHIR = "222222222222.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:1.0.0"
PROD_NLFHIR = "333333333333.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:1.0.0"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    staging = tmp_path / "Pulumi.staging.yaml"
    text = staging.read_text()
    assert text.count(f"image: {STAGING_NLFHIR}\n") == 1
    staging.write_text(text.replace(f"image: {STAGING_NLFHIR}\n", f"image: {STAGING_NLFHIR[:-6]}:1.4.2@{DIGEST}\n"))
    return tmp_path


def test_copies_the_digest_into_prod_changing_one_line(project: Path) -> None:
    before = (project / "Pulumi.prod.yaml").read_text()
    result = promote(project, "nlfhir", source="staging", target="prod", today=datetime.date(2026, 12, 2))
    after = (project / "Pulumi.prod.yaml").read_text()
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [
        f"-      image: {PROD_NLFHIR}",
        f"+      image: 333333333333.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:1.4.2@{DIGEST}",
    ]
    assert result.summary() == (
        f"promoted nlfhir from staging to prod: {PROD_NLFHIR} -> 333333333333.dkr.ecr.us-east-2.amazonaws.com/"
        f"nl-fhir:1.4.2@{DIGEST} (Pulumi.prod.yaml, docs/promotions.md)")
    log = (project / "docs" / "promotions.md").read_text()
    assert log.splitlines()[-3:] == ["| Date (UTC) | App | From | To | Digest |", "|---|---|---|---|---|",
                                     f"| 2026-12-02 | nlfhir | staging | prod | `{DIGEST}` |"]


def test_a_second_promotion_appends_to_the_history(project: Path) -> None:
    promote(project, "nlfhir", source="staging", target="prod", today=datetime.date(2026, 12, 2))
    promote(project, "nlfhir", source="staging", target="prod", today=datetime.date(2026, 12, 3))
    rows = [line for line in (project / "docs" / "promotions.md").read_text().splitlines() if line.startswith("| 2")]
    assert rows == [f"| 2026-12-02 | nlfhir | staging | prod | `{DIGEST}` |",
                    f"| 2026-12-03 | nlfhir | staging | prod | `{DIGEST}` |"]


def test_refuses_a_tag_without_digest_in_one_line(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = (project / "Pulumi.prod.yaml").read_text()
    monkeypatch.setattr(cli, "ROOT", project)
    assert cli.main(["promote", "prmApi", "--from", "staging", "--to", "prod"]) == 2
    assert capsys.readouterr().err == (
        "error: Pulumi.staging.yaml: care-platform:apps.prmApi.image is 222222222222.dkr.ecr.us-east-2.amazonaws.com/"
        "prm-api:1.0.0, a tag without a digest: pin staging to the image it runs (repository@sha256:<digest>) before "
        "promoting it\n")
    assert (project / "Pulumi.prod.yaml").read_text() == before
    assert not (project / "docs" / "promotions.md").exists()


@pytest.mark.parametrize(("app", "source", "target", "message"), [
    ("nlfhir", "prod", "prod", "--from and --to are both 'prod': promote between two stacks"),
    ("nlfhir", "staging", "qa", "no stack 'qa' (no Pulumi.qa.yaml); stacks here: prod, staging"),
    ("billing", "staging", "prod",
     "Pulumi.staging.yaml: no app 'billing' under care-platform:apps (apps: nlfhir, prmApi, prmWorker)"),
])
def test_bad_requests_are_one_line(project: Path, app: str, source: str, target: str, message: str) -> None:
    with pytest.raises(PromotionError) as caught:
        promote(project, app, source=source, target=target)
    assert str(caught.value) == message


def test_the_promoted_file_still_passes_the_config_validation(project: Path) -> None:
    promote(project, "nlfhir", source="staging", target="prod")
    import yaml

    from components.common import _pinned_image
    config = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())["config"]
    image = config["care-platform:apps"]["nlfhir"]["image"]
    assert _pinned_image(image) == f"333333333333.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:1.4.2@{DIGEST}"
