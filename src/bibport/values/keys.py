"""Citation keys: `familyYEARfirstword`, deduplicated (values layer: pure, stdlib only).

A key is lowercase ASCII letters and digits (accents folded via NFKD, everything else removed):
the first author's family name (else the first editor's, else the first word of a literal name;
`anon` when there is none), the year of `issued` (`nd` when missing) and the first word of the
title, a leading a/an/the skipped. Existing keys are kept when they are valid BibTeX keys that
are also safe file names (`refs/<key>.bib`): a letter, then letters, digits and `_:.+-`.
"""

from __future__ import annotations

import re
import unicodedata

from bibport.values.markup import strip_markup

_VALID_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_:.+\-]*")
_ARTICLES = frozenset({"a", "an", "the"})


def _fold(text: str) -> str:
    """Lowercase ASCII letters and digits only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def is_valid_key(key) -> bool:
    """True for a string usable as a BibTeX key and as a file stem."""
    return isinstance(key, str) and _VALID_KEY.fullmatch(key) is not None


def _name_part(item: dict) -> str:
    for variable in ("author", "editor"):
        names = item.get(variable)
        if not isinstance(names, list):
            continue
        for name in names:
            if not isinstance(name, dict):
                continue
            if name.get("family"):
                folded = _fold(strip_markup(str(name["family"])))
            elif name.get("literal"):
                words = strip_markup(str(name["literal"])).split()
                folded = next((w for w in map(_fold, words) if w), "")
            else:
                continue
            if folded:
                return folded
    return "anon"


def _year_part(item: dict) -> str:
    issued = item.get("issued")
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            year = str(parts[0][0]).strip()
            if re.fullmatch(r"-?[0-9]+", year):
                return year.lstrip("-")
        for text in (issued.get("raw"), issued.get("literal")):
            match = re.search(r"[0-9]{4}", text) if isinstance(text, str) else None
            if match:
                return match.group()
    return "nd"


def _title_part(item: dict) -> str:
    title = item.get("title")
    if not isinstance(title, str):
        return ""
    words = [w for w in (_fold(word) for word in strip_markup(title).split()) if w]
    if len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return words[0] if words else ""


def make_key(item: dict) -> str:
    """`familyYEARfirstword` for a CSL item, lowercase ASCII."""
    return _name_part(item) + _year_part(item) + _title_part(item)


def _suffixes():
    """a, b, ..., z, aa, ab, ..."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    size = 1
    while True:
        for number in range(26 ** size):
            text = ""
            for _ in range(size):
                number, rest = divmod(number, 26)
                text = letters[rest] + text
            yield text
        size += 1


def assign_keys(items: list[dict]) -> list[str]:
    """One key per item: a valid existing citation-key/id kept, else a unique generated one.

    An existing key that collides case-insensitively with an earlier one is replaced by a
    generated key, so the result never holds two keys equal up to case.
    """
    taken: set[str] = set()
    keys: list[str | None] = []
    for item in items:
        kept = None
        for candidate in (item.get("citation-key"), item.get("id")):
            if is_valid_key(candidate) and candidate.lower() not in taken:
                kept = candidate
                break
        if kept is not None:
            taken.add(kept.lower())
        keys.append(kept)
    out = []
    for item, kept in zip(items, keys, strict=True):
        if kept is not None:
            out.append(kept)
            continue
        base = make_key(item)
        if not base[0].isalpha():
            base = "ref" + base  # a family name like "3M" must not start the key
        key = base
        if key in taken:
            key = next(base + s for s in _suffixes() if base + s not in taken)
        taken.add(key)
        out.append(key)
    return out
