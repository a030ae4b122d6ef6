"""Reading order of a page's text blocks, column-aware.

MuPDF's `sort=True` orders blocks by their bottom edge, which puts the shorter of two columns first and
interleaves the paragraphs of a two-column article. `pymupdf4llm`'s layout analysis reads the page's own text
layer only; here the same ordering must also apply to the paragraphs Tesseract finds on a scan, so it is a small
recursive XY-cut over block boxes (any coordinates: PDF points or image pixels):

1. Cut the region into horizontal bands at the y-gaps no block straddles.
2. A band holding one wide block (a title, a full-width paragraph, a table row across the page) stands alone;
   consecutive bands of narrow blocks are merged back into one region, since two columns share y-gaps
   wherever both happen to have a paragraph break.
3. A merged region is cut into columns at the x-gaps no block straddles, read left to right (each column read
   by the same rules); a centered line above or below the columns (author, page number) is set aside first when
   it bridges the gutter; without such a gap the region is read top to bottom.

Columns must be text-like (each at least MIN_COLUMN_SHARE of the page's width), so the label and value columns
of a form or a table are not pulled apart. A short line under the columns that does not reach across the gutter
(a one-line footnote) cannot be told from the last line of the left column and is read with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

WIDE_SHARE = 0.6  # a block at least this share of the region's width spans the columns
MIN_COLUMN_SHARE = 0.25
MIN_GUTTER_SHARE = 0.015  # an x-gap narrower than this share of the width is word spacing, not a gutter

T = TypeVar("T")


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    index: int  # position in the caller's list


def _bands(boxes: list[Box]) -> list[list[Box]]:
    """Split at the y-gaps that no box straddles, top to bottom."""
    out: list[list[Box]] = []
    bottom = None
    for b in sorted(boxes, key=lambda b: (b.y0, b.x0)):
        if bottom is None or b.y0 >= bottom:
            out.append([b])
            bottom = b.y1
        else:
            out[-1].append(b)
            bottom = max(bottom, b.y1)
    return out


def _columns(boxes: list[Box], width: float) -> list[list[Box]] | None:
    """Split at the x-gaps that no box straddles, left to right; None when there is no text-like column split."""
    cols: list[list[Box]] = []
    right = None
    gutter = MIN_GUTTER_SHARE * width
    for b in sorted(boxes, key=lambda b: b.x0):
        if right is None or b.x0 >= right + gutter:
            cols.append([b])
            right = b.x1
        else:
            cols[-1].append(b)
            right = max(right, b.x1)
    if len(cols) < 2:
        return None
    if any(max(b.x1 for b in c) - min(b.x0 for b in c) < MIN_COLUMN_SHARE * width for c in cols):
        return None
    return cols


def _flat(bands: list[list[Box]]) -> list[Box]:
    return [b for band in bands for b in band]


def _read_narrow(bands: list[list[Box]], width: float, depth: int) -> list[Box]:
    """Consecutive narrow bands: columns if there are any. A centered line above or below the columns (an author
    line, a page number) bridges the gutter, so when the whole group has no column split, the fewest leading and
    trailing bands are set aside (read before and after) until the rest splits; without any split, top to bottom."""
    n = len(bands)
    for dropped in range(n):
        for lead in range(dropped + 1):
            middle = bands[lead:n - (dropped - lead)]
            cols = _columns(_flat(middle), width) if middle else None
            if cols is None:
                continue
            out = sorted(_flat(bands[:lead]), key=lambda b: (b.y0, b.x0))
            for c in cols:
                out.extend(_order(c, width, depth + 1))
            return out + sorted(_flat(bands[n - (dropped - lead):]), key=lambda b: (b.y0, b.x0))
    return sorted(_flat(bands), key=lambda b: (b.y0, b.x0))


def _order(boxes: list[Box], width: float, depth: int = 0) -> list[Box]:
    if len(boxes) <= 1 or depth > 8:
        return sorted(boxes, key=lambda b: (b.y0, b.x0))
    x0, x1 = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
    region_width = max(x1 - x0, 1.0)
    out: list[Box] = []
    pending: list[list[Box]] = []  # consecutive narrow bands

    def flush() -> None:
        if pending:
            out.extend(_read_narrow(pending, width, depth))
            pending.clear()

    for band in _bands(boxes):
        if any(b.x1 - b.x0 >= WIDE_SHARE * region_width for b in band):
            flush()
            out.extend(sorted(band, key=lambda b: (b.y0, b.x0)))
        else:
            pending.append(band)
    flush()
    return out


def reading_order(boxes: Sequence[tuple[float, float, float, float]], page_width: float) -> list[int]:
    """Indices of `boxes` (x0, y0, x1, y1) in reading order."""
    items = [Box(x0, y0, x1, y1, i) for i, (x0, y0, x1, y1) in enumerate(boxes)]
    return [b.index for b in _order(items, page_width)]


def in_reading_order(items: Sequence[T], boxes: Sequence[tuple[float, float, float, float]], page_width: float) -> list[T]:
    return [items[i] for i in reading_order(boxes, page_width)]
