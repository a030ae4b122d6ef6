"""Markdown and DOCX exports: structure an attorney can edit, provenance, and versions that are never overwritten."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import docx
import pytest

from declaration_assets.drafting.models import Draft, Exhibit, Section
from declaration_assets.exports.docx import NUMBERED_STYLE, PROVENANCE_PREFIX
from declaration_assets.exports.provenance import make_provenance
from declaration_assets.exports.versioning import LATEST_FILE, latest_version, write_new
from declaration_assets.exports.write import write_declaration_version


def make_draft(language: str = "es") -> Draft:
    return Draft(
        case_id="vawa-0002", model_config_name="default", case_type="vawa", declarant_name="María Fernanda Castillo Reyes",
        language=language, prompt_version="draft-v1",
        sections=[
            Section(kind="introduction", title="Introduction", paragraphs=["I, María Fernanda Castillo Reyes, declare as follows:"]),
            Section(kind="element", element_id="qualifying_relationship", title="Qualifying Relationship",
                    paragraphs=["I married Rodrigo on June 18, 2016 [Ex. B, p. 2].", "He is a resident [Ex. C, p. 1]."]),
            Section(kind="element", element_id="abuse", title="Battery or Extreme Cruelty",
                    paragraphs=["He hit me on December 24, 2016 [Ex. A, p. 2]."]),
            Section(kind="closing", title="Closing", paragraphs=[
                "I declare under penalty of perjury under the laws of the United States of America that the "
                "foregoing is true and correct.", "Signed: ______________ Date: ________",
                "Signed at Houston, Texas, on the date below.", "María Fernanda Castillo Reyes"]),
        ],
        exhibits=[Exhibit(letter="A", document="01-notas.pdf", title="Interview notes", pages=5),
                  Exhibit(letter="B", document="02-marriage.pdf", title="Marriage certificate", pages=2),
                  Exhibit(letter="C", document="03-lpr.pdf", title="LPR status", pages=1)],
    )


@pytest.fixture()
def routes(tmp_path):
    p = tmp_path / "routes.yaml"
    p.write_text("default: default\nmodel_configs: {default: {}}\n", encoding="utf-8")
    return p


def write(tmp_path, routes, run_id, *, language="es", status="READY", reasons=(), minute=0):
    prov = make_provenance("vawa-0002", "default", run_id, "draft-v1+guard-v1", routing_file=routes,
                           now=datetime(2026, 1, 2, 3, minute, tzinfo=timezone.utc))
    return write_declaration_version(tmp_path / "outputs", make_draft(language), status=status, reasons=list(reasons),
                                     provenance=prov, filing="In support of Form I-360, VAWA Self-Petition",
                                     now=datetime(2026, 1, 2, 3, minute, tzinfo=timezone.utc))


def test_docx_structure(tmp_path, routes):
    import hashlib

    written = write(tmp_path, routes, "abcdef12-3456-7890")
    d = docx.Document(written.files["declaration.docx"])
    texts = [p.text for p in d.paragraphs]
    assert texts[0] == "Declaration of María Fernanda Castillo Reyes"
    numbered = [p for p in d.paragraphs if p.style.name == NUMBERED_STYLE]
    # Four numbered paragraphs (intro + 2 + 1); the draft's own attestation and signature line are replaced.
    assert [p.text for p in numbered] == [
        "I, María Fernanda Castillo Reyes, declare as follows:",
        "I married Rodrigo on June 18, 2016 [Ex. B, p. 2].",
        "He is a resident [Ex. C, p. 1].",
        "He hit me on December 24, 2016 [Ex. A, p. 2].",
    ]
    # Word numbering (not typed numbers): the style carries a numbering definition.
    assert d.styles[NUMBERED_STYLE].element.pPr.numPr is not None
    headings = [p.text for p in d.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["Qualifying Relationship", "Battery or Extreme Cruelty", "Certificate of Translation", "Exhibit List"]
    assert sum("penalty of perjury" in t for t in texts) == 1
    i = next(i for i, t in enumerate(texts) if "penalty of perjury" in t)
    assert texts[i + 1].startswith("Signature: ____") and texts[i + 2] == "Printed name: María Fernanda Castillo Reyes"
    assert texts[i + 3].startswith("Date: ____")
    cert = next(t for t in texts if t.startswith("I, ____"))
    assert "from Spanish into English" in cert and "María Fernanda Castillo Reyes" in cert
    assert any(t.startswith("Translator's signature: ____") for t in texts)
    assert any(t.startswith("Translator's printed name: ____") for t in texts)
    assert "Exhibit B: Marriage certificate (02-marriage.pdf, 2 pages)" in texts
    sha = hashlib.sha256(routes.read_bytes()).hexdigest()
    prov = next(t for t in texts if t.startswith(PROVENANCE_PREFIX))
    for part in ("abcdef12-3456-7890", "default", sha, "draft-v1+guard-v1", "2026-01-02T03:00:00Z", written.folder.name):
        assert part in prov
    cp = d.core_properties
    assert cp.identifier == "abcdef12-3456-7890" and cp.content_status == "READY"
    assert sha in cp.comments and cp.version == "draft-v1+guard-v1"


def test_english_declarant_has_no_translation_certificate(tmp_path, routes):
    written = write(tmp_path, routes, "11111111-aaaa", language="en")
    texts = [p.text for p in docx.Document(written.files["declaration.docx"]).paragraphs]
    assert "Certificate of Translation" not in texts
    assert "Certificate of Translation" not in written.markdown


def test_markdown_provenance_numbering_and_status(tmp_path, routes):
    written = write(tmp_path, routes, "22222222-bbbb", status="NOT READY", reasons=["placeholder: '[NAME]' left"])
    md = written.markdown
    front = md.split("---\n")[1]
    assert 'run_id: "22222222-bbbb"' in front and 'model_config: "default"' in front
    assert 'prompt_version: "draft-v1+guard-v1"' in front and 'status: "NOT READY"' in front
    assert "routing_file_sha256:" in front and f'version: "{written.folder.name}"' in front
    assert "> **Status: NOT READY.**" in md and "> - placeholder: '[NAME]' left" in md
    assert "\n3. He is a resident [Ex. C, p. 1].\n" in md and "\n4. He hit me" in md
    assert "## Certificate of Translation" in md and "## Exhibit List" in md


def test_versions_never_overwrite_and_latest_points_to_the_newest(tmp_path, routes):
    first = write(tmp_path, routes, "aaaaaaaa-1111", minute=0)
    edited = "# My hand edits\n"
    (first.folder / "declaration.md").write_text(edited, encoding="utf-8")  # an attorney edits v1 by hand
    second = write(tmp_path, routes, "bbbbbbbb-2222", minute=5)
    base = tmp_path / "outputs" / "vawa-0002" / "default"
    assert first.folder.name == "v0001-20260102T030000Z-aaaaaaaa"
    assert second.folder.name == "v0002-20260102T030500Z-bbbbbbbb"
    assert (first.folder / "declaration.md").read_text(encoding="utf-8") == edited
    assert os.readlink(base / "latest") == second.folder.name
    assert (base / LATEST_FILE).read_text().strip() == second.folder.name
    assert latest_version(base) == second.folder
    assert (base / "latest" / "declaration.docx").is_file()
    with pytest.raises(FileExistsError):
        write_new(second.folder / "declaration.md", "overwrite attempt")


def test_review_notes_follow_the_exhibit_list_for_the_attorney(tmp_path, routes):
    from declaration_assets.exports.layout import REVIEW_NOTES_TITLE
    from declaration_assets.exports.markdown import render_markdown

    d = make_draft()
    d.section_for("abuse").review_notes = [
        "dropped (staff_note): Staff to confirm with a FOIA request [Ex. A, p. 1].",
        "unverified (passages in another language; support not verified): He hit me [Ex. A, p. 2].",
    ]
    prov = make_provenance("vawa-0002", "default", "run-1", "draft-v1", routing_file=routes)
    md = render_markdown(d, status="READY", reasons=[], provenance=prov)
    notes_at, exhibits_at = md.index(f"## {REVIEW_NOTES_TITLE}"), md.index("## Exhibit List")
    assert notes_at > exhibits_at
    assert "**Battery or Extreme Cruelty**" in md[notes_at:] and "- dropped (staff_note): Staff to confirm" in md
    # Without notes, no section.
    assert REVIEW_NOTES_TITLE not in render_markdown(make_draft(), status="READY", reasons=[], provenance=prov)
