"""The settings object: built from an environment mapping, validated, replaceable in tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from declaration_assets import settings
from declaration_assets.settings import SettingsError, from_env


def test_defaults_follow_the_folders_they_derive_from(tmp_path: Path) -> None:
    s = from_env({"DECLARATION_DATA_DIR": str(tmp_path / "d"), "DECLARATION_RUN_DIR": str(tmp_path / "r"),
                  "DECLARATION_OUTPUTS_DIR": ""})  # empty: unset
    assert s.cases_dir == tmp_path / "d" / "cases" and s.outputs_dir == tmp_path / "d" / "outputs"
    assert s.call_log == tmp_path / "r" / "llm_calls.jsonl" and s.slots_dir == tmp_path / "r" / "llm_slots"
    assert (s.max_pdf_pages, s.sensor_interval_s, s.profile, s.ui_previews) == (2000, 30, "dev", True)
    assert s.routes_file == settings.PACKAGED_ROUTES and s.s3_prefix == "declaration_assets"


@pytest.mark.parametrize(("var", "value", "message"), [
    ("DECLARATION_MAX_PDF_MB", "lots", r"DECLARATION_MAX_PDF_MB='lots': Input should be a valid number"),
    ("DECLARATION_SENSOR_INTERVAL_S", "0", r"DECLARATION_SENSOR_INTERVAL_S='0': Input should be greater than 0"),
    ("DECLARATION_PROFILE", "staging", r"DECLARATION_PROFILE='staging': Input should be 'dev' or 'production'"),
    ("DECLARATION_LLM_CACHE", "maybe", r"DECLARATION_LLM_CACHE='maybe': expected 1 or 0"),
    ("DECLARATION_EMBEDDED_PORT", "99999", r"DECLARATION_EMBEDDED_PORT='99999': Input should be less than 65536"),
])
def test_a_bad_value_names_its_variable(var: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_env({var: value})


def test_either_previews_switch_turns_previews_off() -> None:
    assert from_env({"DECLARATION_METADATA_PREVIEWS": "0"}).ui_previews is False
    assert from_env({"DECLARATION_UI_PREVIEWS": "off"}).ui_previews is False
    assert from_env({"DECLARATION_UI_PREVIEWS": "1"}).ui_previews is True


def test_current_is_built_once_and_configure_replaces_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECLARATION_MAX_FILES_PER_CASE", "7")
    first = settings.current()
    assert first is settings.current() and first.max_files_per_case == 7
    monkeypatch.setenv("DECLARATION_MAX_FILES_PER_CASE", "8")
    assert settings.current().max_files_per_case == 7  # read once, not on every use
    with settings.override(outputs_dir=tmp_path) as inside:
        assert settings.current() is inside and inside.outputs_dir == tmp_path and inside.max_files_per_case == 7
    assert settings.current() is first
    with pytest.raises(ValueError, match="max_files_per_case"):
        settings.configure(max_files_per_case=-1)
    settings.configure()
    assert settings.current().max_files_per_case == 8
