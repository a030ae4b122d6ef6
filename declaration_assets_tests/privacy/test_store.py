"""The per-case placeholder map on disk: private file modes, persistence across calls, concurrent numbering."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

from declaration_assets.privacy.gate import redact_messages
from declaration_assets.privacy.store import delete_map, load_map, locked_map, map_path

from .cases import PLACEHOLDER, sample_record


def test_map_is_private_and_persists_between_calls(tmp_path):
    record = sample_record("vawa-0001")
    msgs = [{"role": "system", "content": "You write declarations."},
            {"role": "user", "content": "Ricardo Ibarra hit Lucía Montoya at 2215 Calloway Street, Apt 7C."}]
    out1, restore1 = redact_messages(msgs, record, tmp_path)
    path = map_path(record.case_id, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "Ricardo" in path.read_text(encoding="utf-8")  # the map holds the values: that is why it is 0600
    out2, _ = redact_messages(msgs, record, tmp_path)  # a new call, a map read back from disk
    assert out1 == out2
    assert out1[0] == msgs[0]
    assert restore1(out1[1]["content"]) == msgs[1]["content"]


def test_concurrent_calls_never_share_a_placeholder(tmp_path):
    record = sample_record("vawa-0002")
    strangers = [f"Call ({100 + i}) 555-{1000 + i} or write to s{i}@example.net." for i in range(12)]

    def one(text: str) -> str:
        return redact_messages([{"role": "user", "content": text}], record, tmp_path)[0][0]["content"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        outs = list(pool.map(one, strangers))
    placeholders = [p for o in outs for p in PLACEHOLDER.findall(o)]
    assert len(placeholders) == 24 and len(set(placeholders)) == 24
    rmap = load_map(record.case_id, tmp_path)
    phones = [e for e in rmap.entities if e.kind == "PHONE"]
    assert len({e.number for e in phones}) == len(phones)


def test_delete_map(tmp_path):
    record = sample_record("tvisa-0001")
    with locked_map(record.case_id, tmp_path) as rmap:
        rmap.ensure("phone:1", "PHONE", "1")
    assert map_path(record.case_id, tmp_path).exists()
    removed = delete_map(record.case_id, tmp_path)
    assert removed and not map_path(record.case_id, tmp_path).exists()
