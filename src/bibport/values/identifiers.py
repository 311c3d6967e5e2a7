"""Identifier and value sanity: DOI, ISBN, ISSN, URL, pages, years, months (values layer: pure, stdlib only).

Every function takes the plain text of one field (LaTeX escapes such as `\\_` already undone by the
caller where it matters) and answers without I/O; the clock is the caller's business (`current_year`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Registrant code 10.NNNN (4-9 digits, optional .sub-codes), a slash, a non-empty suffix without spaces.
_DOI = re.compile(r"10\.[0-9]{4,9}(?:\.[0-9]+)*/\S+")
_DOI_LINK = re.compile(r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_ISSN = re.compile(r"([0-9]{4})-?([0-9]{3}[0-9Xx])")
_NUMBERED = re.compile(r"([A-Za-z]{0,3})([0-9]+)([A-Za-z]?)")  # 12, S12, e1234, 12a
_ROMAN = re.compile(r"[ivxlcdm]+|[IVXLCDM]+")
_PAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:/+-]*")          # article ids: e-123, 1.2.3, 12+
_RANGE = re.compile(r"(.+?)\s*(-{1,2})\s*(.+)")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
_EDTF_DAY = re.compile(r"(-?[0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?(?:T[0-9:]+Z?)?[?~%]?")

FIRST_PLAUSIBLE_YEAR = 1400  # printing with movable type in Europe: earlier dates are typos
YEARS_AHEAD = 2              # forthcoming works may carry next year's date

# Month spellings BibTeX styles and biber both understand (the macros evaluate to the full names).
MONTH_WORDS = frozenset((
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
))


def doi_link_prefix(value: str) -> str | None:
    """The bare DOI when value is written as a link (`https://doi.org/...`, `doi:...`), else None."""
    text = value.strip()
    match = _DOI_LINK.match(text)
    return text[match.end():] if match else None


def is_doi(value: str) -> bool:
    """True for a bare DOI: `10.` registrant code, `/`, a suffix with no spaces."""
    return _DOI.fullmatch(value.strip()) is not None


def _isbn_digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def is_isbn(value: str) -> bool:
    """True for an ISBN-10 or ISBN-13 with a correct check digit (hyphens and spaces allowed)."""
    digits = _isbn_digits(value)
    if re.fullmatch(r"[0-9]{9}[0-9X]", digits):
        total = sum((10 - i) * (10 if d == "X" else int(d)) for i, d in enumerate(digits))
        return total % 11 == 0
    if re.fullmatch(r"97[89][0-9]{10}", digits):
        total = sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(digits))
        return total % 10 == 0
    return False


def split_isbns(value: str) -> list[str]:
    """The ISBNs of a field that may list several (comma, semicolon or space separated)."""
    out = []
    for chunk in re.split(r"[,;]", value):
        chunk = re.sub(r"^\s*ISBN(?:-1[03])?:?\s*", "", chunk.strip(), flags=re.IGNORECASE)
        if not chunk:
            continue
        if len(_isbn_digits(chunk)) in (10, 13) or len(chunk.split()) == 1:
            out.append(chunk)
        else:
            out += chunk.split()  # "978-... 978-..." on one line
    return out


def is_issn(value: str) -> bool:
    """True for an ISSN `NNNN-NNNC` whose check digit (mod 11, X = 10) is right."""
    match = _ISSN.fullmatch(value.strip())
    if not match:
        return False
    digits = match.group(1) + match.group(2).upper()
    total = sum((8 - i) * int(d) for i, d in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    return digits[7] == ("X" if check == 10 else str(check))


def is_url(value: str) -> bool:
    """True for an absolute http(s) URL with a host and no whitespace."""
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _roman_value(text: str) -> int:
    values = [_ROMAN_VALUES[c] for c in text.lower()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _range_problem(first: str, last: str) -> str | None:
    one, two = _NUMBERED.fullmatch(first), _NUMBERED.fullmatch(last)
    if one and two:
        if one.group(1).lower() != two.group(1).lower():
            return f"{first} and {last} have different prefixes"
        if int(two.group(2)) < int(one.group(2)):
            return f"range {first}--{last} ends before it starts"
        return None
    if _ROMAN.fullmatch(first) and _ROMAN.fullmatch(last):
        if first.islower() != last.islower():
            return f"{first} and {last} mix upper- and lower-case roman numerals"
        if _roman_value(last) < _roman_value(first):
            return f"range {first}--{last} ends before it starts"
        return None
    return f"{first}--{last} is not a range of two page numbers of the same kind"


def _same_kind(first: str, last: str) -> bool:
    # a single hyphen is a range only between two page numbers: `e-123` is an article id
    return any(kind.fullmatch(first) and kind.fullmatch(last) for kind in (_NUMBERED, _ROMAN))


def page_problem(value: str) -> str | None:
    """Why a BibTeX pages value is not a list of pages and ascending ranges (`12--15`), or None."""
    items = [item.strip() for item in value.split(",")]
    if not value.strip() or any(not item for item in items):
        return "empty page item"
    for item in items:
        if "---" in item or re.search(r"[\u2010-\u2015\u2212]", item):
            return f"{item!r}: write page ranges with -- (two hyphens)"
        if re.fullmatch(r"[0-9]+\+?|" + _ROMAN.pattern, item):
            continue
        match = _RANGE.fullmatch(item)
        if match and (match.group(2) == "--" or _same_kind(match.group(1), match.group(3))):
            problem = _range_problem(match.group(1), match.group(3))
            if problem:
                return problem
            continue
        if not _PAGE_ID.fullmatch(item):
            return f"{item!r} is not a page, a page range or an article number"
    return None


def year_problem(value: str, *, current_year: int) -> str | None:
    """Why a year field is not a plausible year (1400..current_year+2), or None."""
    text = value.strip()
    if not re.fullmatch(r"[0-9]{4}", text):
        return f"year {text!r} is not a four-digit year"
    year = int(text)
    if not FIRST_PLAUSIBLE_YEAR <= year <= current_year + YEARS_AHEAD:
        return f"year {year} is outside {FIRST_PLAUSIBLE_YEAR}..{current_year + YEARS_AHEAD}"
    return None


def date_problem(value: str, *, current_year: int) -> str | None:
    """Why a biblatex date (EDTF `YYYY[-MM[-DD]]`, `a/b` ranges, `..` open ends) is implausible, or None."""
    for part in value.strip().split("/"):
        if part in ("", ".."):
            continue
        match = _EDTF_DAY.fullmatch(part)
        if not match:
            return f"date {value.strip()!r} is not an ISO 8601/EDTF date"
        year, month, day = match.groups()
        if year.startswith("-") or not FIRST_PLAUSIBLE_YEAR <= int(year) <= current_year + YEARS_AHEAD:
            return f"year {year} is outside {FIRST_PLAUSIBLE_YEAR}..{current_year + YEARS_AHEAD}"
        # EDTF seasons are 21..24 (and 25..41): not a typo
        if month and not (1 <= int(month) <= 12 or 21 <= int(month) <= 41):
            return f"month {month} in date {value.strip()!r} does not exist"
        if day and not 1 <= int(day) <= 31:
            return f"day {day} in date {value.strip()!r} does not exist"
    return None


def is_month(value: str) -> bool:
    """True for a month BibTeX and biber both accept: 1..12 or an English month name or abbreviation."""
    text = value.strip()
    if text.isdigit():
        return 1 <= int(text) <= 12
    return text.lower() in MONTH_WORDS
