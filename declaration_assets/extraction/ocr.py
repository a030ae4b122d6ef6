"""Tesseract through its command line: orientation detection (OSD) and OCR with per-word confidences (TSV).

pymupdf's own OCR (`get_textpage_ocr`) neither detects orientation nor returns Tesseract's word confidences, and
`pytesseract` would only wrap the same command, so the `tesseract` program is called directly: a PNG on stdin,
OSD or TSV on stdout. Pure apart from that subprocess.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

# One Tesseract thread per call: the machine's cores are better spent on parallel runs than on OpenMP spin-waits.
_ENV = {"OMP_THREAD_LIMIT": "1"}
OCR_TIMEOUT_S = 180
# Below this OSD orientation confidence the answer is a guess (Tesseract's own docs suggest ~2 for latin text).
MIN_OSD_CONFIDENCE = 2.0


class TesseractError(RuntimeError):
    """The tesseract command failed or is missing."""


def tesseract_command() -> str | None:
    return shutil.which("tesseract")


def _run(png: bytes, args: list[str], tessdata: str | None) -> str:
    exe = tesseract_command()
    if exe is None:
        raise TesseractError("the tesseract command is not installed (Debian package tesseract-ocr)")
    cmd = [exe, "stdin", "stdout"]
    if tessdata:
        cmd += ["--tessdata-dir", tessdata]
    try:
        proc = subprocess.run(cmd + args, input=png, capture_output=True, timeout=OCR_TIMEOUT_S,
                              env={**os.environ, **_ENV}, check=False)
    except subprocess.TimeoutExpired as e:
        raise TesseractError(f"tesseract took longer than {OCR_TIMEOUT_S} s") from e
    if proc.returncode != 0:
        raise TesseractError(proc.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit {proc.returncode}")
    return proc.stdout.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------------ OSD


@dataclass(frozen=True)
class Orientation:
    rotate: int  # degrees to rotate the image clockwise so that its text is upright (0, 90, 180, 270)
    confidence: float


_OSD_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.M)
_OSD_CONF = re.compile(r"^Orientation confidence:\s*([\d.]+)", re.M)


def parse_osd(out: str) -> Orientation | None:
    rot, conf = _OSD_ROTATE.search(out), _OSD_CONF.search(out)
    if not rot or not conf:
        return None
    return Orientation(int(rot.group(1)) % 360, float(conf.group(1)))


def detect_orientation(png: bytes, tessdata: str | None, dpi: int) -> Orientation | None:
    """Tesseract OSD (`--psm 0`); None when it cannot tell (too little text, no osd data, a blank page)."""
    try:
        return parse_osd(_run(png, ["--psm", "0", "--dpi", str(dpi)], tessdata))
    except TesseractError:
        return None


# ------------------------------------------------------------------------------------------------ OCR


@dataclass(frozen=True)
class OcrWord:
    block: int
    par: int
    line: int
    left: int
    top: int
    width: int
    height: int
    conf: float  # 0-100
    text: str


@dataclass(frozen=True)
class OcrBlock:
    """One Tesseract paragraph: its box (pixels) and its lines."""

    x0: float
    y0: float
    x1: float
    y1: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def parse_tsv(out: str) -> list[OcrWord]:
    words = []
    for row in out.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":  # level 5 = word
            continue
        text = cols[11].strip()
        if not text:
            continue
        words.append(OcrWord(int(cols[2]), int(cols[3]), int(cols[4]), int(cols[6]), int(cols[7]), int(cols[8]),
                             int(cols[9]), float(cols[10]), text))
    return words


def ocr_words(png: bytes, language: str, tessdata: str | None, dpi: int) -> list[OcrWord]:
    return parse_tsv(_run(png, ["-l", language, "--psm", "3", "--dpi", str(dpi), "tsv"], tessdata))


# Tesseract sometimes breaks a long number in two ("052817-23" -> "05281 7-23"). Measured on the sample police
# report at 300 dpi: such breaks leave a gap of 0.29-0.33 of the line's height, real spaces 0.32-0.6; between two
# digits a gap under TIGHT_DIGIT_GAP is read as no space at all.
TIGHT_DIGIT_GAP = 0.34


def _line_text(line: list[OcrWord]) -> str:
    heights = sorted(w.height for w in line)
    h = max(heights[len(heights) // 2], 1)
    out = line[0].text
    for a, b in zip(line, line[1:]):
        gap = b.left - (a.left + a.width)
        tight = a.text[-1].isdigit() and b.text[0].isdigit() and gap < TIGHT_DIGIT_GAP * h
        out += ("" if tight else " ") + b.text
    return out


def words_to_blocks(words: list[OcrWord]) -> list[OcrBlock]:
    """Group words into paragraphs (Tesseract's block and paragraph numbers) and lines, keeping Tesseract's order."""
    groups: dict[tuple[int, int], dict[int, list[OcrWord]]] = {}
    for w in words:
        groups.setdefault((w.block, w.par), {}).setdefault(w.line, []).append(w)
    blocks = []
    for lines in groups.values():
        ws = [w for line in lines.values() for w in line]
        blocks.append(
            OcrBlock(
                x0=min(w.left for w in ws), y0=min(w.top for w in ws),
                x1=max(w.left + w.width for w in ws), y1=max(w.top + w.height for w in ws),
                lines=tuple(_line_text(line) for line in lines.values()),
            )
        )
    return blocks


def upright_share(words: list[OcrWord]) -> float:
    """Share of the words of three or more characters whose box is wider than tall. Tesseract reads a sideways
    page's lines too (with good confidence, in a scrambled order), so confidence alone cannot tell upright from
    sideways; the word boxes can. 1.0 when there is no such word."""
    long = [w for w in words if len(w.text) >= 3]
    if not long:
        return 1.0
    return sum(w.width > w.height for w in long) / len(long)


def mean_confidence(words: list[OcrWord]) -> float | None:
    """Tesseract's word confidences averaged by the letters and digits each word holds (0-100); None = no words."""
    weights = [(sum(ch.isalnum() for ch in w.text), w.conf) for w in words if w.conf >= 0]
    total = sum(n for n, _ in weights)
    if total == 0:
        return None
    return sum(n * c for n, c in weights) / total
