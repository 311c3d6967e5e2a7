"""Page ranges: BibTeX `12--15` <-> CSL `12-15`, RIS SP/EP (values layer: pure, no I/O).

A page value is a comma-separated list of items; an item is a single page (`12`, `e1234`, `12+`,
`xii`) or a range. CSL writes ranges with one hyphen and items joined by `, `; BibTeX with `--`.
Only a hyphen between two page-like tokens of the same kind (both with digits, or both roman
numerals) is a range: article ids such as `e-123` keep their hyphen in both directions.
"""

from __future__ import annotations

import re

# Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DASH_RUN = re.compile(f" ?[{_DASHES}]+ ?")
_NUMBERED = re.compile(r"[A-Za-z]{0,3}[0-9]+[A-Za-z]?")  # 12, S12, e1234, 12a
_ROMAN = re.compile(r"[ivxlcdm]+|[IVXLCDM]+")


def _items(text: str) -> list[str]:
    return [item.strip() for item in " ".join(text.split()).split(",") if item.strip()]


def _range_ends(item: str) -> tuple[str, str] | None:
    """(first, last) when the CSL item is a range of two page-like tokens of the same kind."""
    ends = item.split("-")
    if len(ends) != 2:
        return None
    first, last = ends
    if _NUMBERED.fullmatch(first) and _NUMBERED.fullmatch(last):
        return first, last
    if _ROMAN.fullmatch(first) and _ROMAN.fullmatch(last):
        return first, last
    return None


def to_csl(text: str) -> str:
    """BibTeX pages -> CSL page: any dash run becomes `-`, items joined by `, `."""
    return ", ".join(_DASH_RUN.sub("-", item) for item in _items(text))


def to_bibtex(text: str) -> str:
    """CSL page -> BibTeX pages: page ranges get `--`, other items are kept as written."""
    out = []
    for item in _items(text):
        ends = _range_ends(_DASH_RUN.sub("-", item))
        out.append(f"{ends[0]}--{ends[1]}" if ends else item)
    return ", ".join(out)


def split_range(text: str) -> tuple[str, str | None]:
    """(start, end) for RIS SP/EP; a single page or anything else comes back whole with None."""
    page = to_csl(text)
    ends = _range_ends(page)
    return ends if ends else (page, None)


def first_page(text: str) -> str | None:
    """First page of the first item (`12` for `12-15, 20`); None for an empty value."""
    items = _items(to_csl(text))
    if not items:
        return None
    ends = _range_ends(items[0])
    first = ends[0] if ends else items[0]
    return first.rstrip("+") or None  # "12+" (and following pages) starts at 12
