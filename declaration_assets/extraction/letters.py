"""Exhibit letters that stay put: assigned once per case and kept in a small ledger beside the case's outputs.

A declaration an attorney has edited cites "[Ex. C, p. 2]"; re-lettering the exhibits when a failed PDF is fixed
or a new one arrives would silently point those citations at other documents. So:
- a document keeps the letter it was first given, whatever happens to the documents before it;
- a new document gets the next letter never used in the case;
- a document that fails to extract still reserves its letter (status `unreadable`), so its fixed copy takes it;
- a document removed from the case retires its letter (never reused; it comes back if the same file returns).
The ledger is `data/outputs/<case_id>/exhibit_letters.json` (not the user's manifest.json); purging the case's
outputs removes it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..text import exhibit_letter
from .models import ExhibitLetter

LEDGER_FILE = "exhibit_letters.json"




def letter_index(letter: str) -> int:
    """Inverse of exhibit_letter: 'A' -> 0, 'AA' -> 26."""
    n = 0
    for ch in letter:
        n = n * 26 + (ord(ch) - ord("A") + 1)
    return n - 1


def assign_letters(ledger: Sequence[ExhibitLetter], documents: Sequence[tuple[str, bool]]) -> list[ExhibitLetter]:
    """The updated ledger for the case's current documents, given as (file name, failed) in document order.

    Entries come back in letter order, retired ones included."""
    by_doc = {e.document: e for e in ledger}
    used = {letter_index(e.letter) for e in ledger}
    present = set()
    out: dict[str, ExhibitLetter] = {}
    for name, failed in documents:
        present.add(name)
        status = "unreadable" if failed else "active"
        if name in by_doc:
            letter = by_doc[name].letter
        else:
            n = 0
            while n in used:
                n += 1
            used.add(n)
            letter = exhibit_letter(n)
        out[name] = ExhibitLetter(letter=letter, document=name, status=status)
    for e in ledger:
        if e.document not in present:
            out[e.document] = e.model_copy(update={"status": "retired"})
    return sorted(out.values(), key=lambda e: letter_index(e.letter))


def ledger_path(outputs_dir: Path, case_id: str) -> Path:
    return Path(outputs_dir) / case_id / LEDGER_FILE


def load_ledger(path: Path) -> list[ExhibitLetter]:
    """The stored ledger; empty when there is none. A damaged ledger is an error, never silently re-lettered."""
    if not path.is_file():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [ExhibitLetter.model_validate(e) for e in raw["letters"]]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"exhibit-letter ledger {path} is damaged ({e}); restore it from a backup, or delete it to re-letter the "
            "case from A (citations in earlier declarations would then point at other exhibits)"
        ) from e


def save_ledger(path: Path, letters: Sequence[ExhibitLetter]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"letters": [e.model_dump() for e in letters]}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a concurrent run never reads half a ledger
