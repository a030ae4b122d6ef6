"""`declaration-assets run <case folder>`: the checks before any run starts (the runs themselves are the jobs'
tests and the demo's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from declaration_assets import cli, settings
from declaration_assets_tests.ingest.pdfs import LEASE_PAGES, text_pdf, to_bytes, write_case


@pytest.fixture()
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.configure(inbox_dir=tmp_path / "inbox")
    settings.configure(cases_dir=tmp_path / "cases")

    def no_server() -> None:
        raise AssertionError("a run started although the case should have been refused")

    monkeypatch.setattr(cli, "_start_embedded", no_server)
    return tmp_path / "inbox"


def test_a_folder_outside_the_inbox_is_refused(tmp_path: Path, inbox: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_case(tmp_path / "elsewhere", "vawa-0044", {"a.pdf": to_bytes(text_pdf(LEASE_PAGES))})
    assert cli.main(["run", str(folder)]) == 2
    assert "must sit in" in capsys.readouterr().err


def test_an_invalid_case_is_refused_with_the_sensors_reasons(inbox: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_case(inbox, "vawa-0044", {"notes.txt": b"no PDF here"})
    assert cli.main(["run", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "not a valid case" in err and "no PDF in the case folder" in err


def test_an_unknown_model_configuration_is_refused(inbox: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_case(inbox, "vawa-0044", {"a.pdf": to_bytes(text_pdf(LEASE_PAGES))})
    assert cli.main(["run", str(folder), "--model-config", "no-such-config"]) == 2
    assert "not in the routing file" in capsys.readouterr().err


def test_a_missing_folder_is_refused(inbox: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["run", str(inbox / "vawa-0099")]) == 2
    assert "no such case folder" in capsys.readouterr().err
