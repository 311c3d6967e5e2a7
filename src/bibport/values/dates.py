"""Dates: BibTeX year/month/day, biblatex EDTF, RIS PY/DA <-> CSL date dicts (values layer: pure, no I/O).

A CSL date here is `{"date-parts": [[y, m, d]]}` (1-3 ints, proleptic Gregorian, astronomical years
so 1 BC is 0), or two inner lists for a range, plus optional `"circa": True` and `"season": 1..4`.

Open-ended ranges use citeproc-js's convention, the one the CSL processor test suite pins
(date_TextFormYeardateYearRangeOpen: `[[1987], [0]]` renders "1987–"): a side that is exactly
`[0]` is open. So `2003/..` and biblatex's `2003/` read as `{"date-parts": [[2003], [0]]}`,
`../2003` and `/2003` as `[[0], [2003]]`; both are schema-valid. `to_edtf` writes the biblatex
spelling `2003/` and `/2003` (biblatex documents the empty side as the open end). Because `[0]`
is the marker, a range side that is year 0 alone is rejected rather than misread.

CSL has one `circa` and one `season` per date: `?`, `~` or `%` on either side of a range makes the
whole date circa (written back on the first closed side); a season inside a range is rejected.
Errors: ValueError only, with a short message.
"""

from __future__ import annotations

import re

# One row per month: number, then every spelling we accept (matched case-insensitively).
_MONTH_ROWS = (
    (1,  "january",   "jan", "janvier",            "januar", "jänner"),
    (2,  "february",  "feb", "février", "fevrier", "februar"),
    (3,  "march",     "mar", "mars",               "märz", "maerz"),
    (4,  "april",     "apr", "avril"),
    (5,  "may",              "mai"),
    (6,  "june",      "jun", "juin",               "juni"),
    (7,  "july",      "jul", "juillet",            "juli"),
    (8,  "august",    "aug", "août", "aout"),
    (9,  "september", "sep", "sept", "septembre"),
    (10, "october",   "oct", "octobre",            "oktober"),
    (11, "november",  "nov", "novembre"),
    (12, "december",  "dec", "décembre", "decembre", "dezember"),
)
MONTHS: dict[str, int] = {
    **{name: number for number, *names in _MONTH_ROWS for name in names},
    # abbreviations are also written with a full stop ("Mar.")
    **{name + ".": number for number, *names in _MONTH_ROWS for name in names if len(name) <= 4},
    **{str(number): number for number in range(1, 13)},
    **{f"{number:02d}": number for number in range(1, 10)},
}

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# EDTF level 1 season codes; RIS carries the season as a word in DA's fourth part.
_SEASONS = ((1, 21, "Spring"), (2, 22, "Summer"), (3, 23, "Autumn"), (4, 24, "Winter"))
_SEASON_BY_EDTF = {code: season for season, code, _ in _SEASONS}
_EDTF_BY_SEASON = {season: code for season, code, _ in _SEASONS}
_SEASON_BY_WORD = {**{word.lower(): season for season, _, word in _SEASONS}, "fall": 3}
_WORD_BY_SEASON = {season: word for season, _, word in _SEASONS}

_OPEN_SIDES = ("", "..")
_EDTF_DATE = re.compile(
    r"(?P<year>Y-?[0-9]{5,12}|-?[0-9]{4})"
    r"(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?)?)?"
    r"(?P<qualifier>[?~%])?"
)
_ISO_RIS = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?")
_DIGITS = re.compile(r"-?[0-9]{1,12}")


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]


def _check(parts: list[int]) -> list[int]:
    """Validate [y], [y, m] or [y, m, d]; return it."""
    if len(parts) >= 2 and not 1 <= parts[1] <= 12:
        raise ValueError(f"month {parts[1]} out of range")
    if len(parts) == 3 and not 1 <= parts[2] <= _days_in(parts[0], parts[1]):
        raise ValueError(f"day {parts[2]} out of range for {parts[0]}-{parts[1]:02d}")
    return parts


def _strip(text: str) -> str:
    return text.replace("{", "").replace("}", "").strip()


def parse_month(text: str) -> int | None:
    """Month number for a name, abbreviation or number in English, French or German; None if unknown."""
    return MONTHS.get(_strip(text).casefold())


_MONTH_FIELD_TOKEN = re.compile(r"[^\W\d_]+\.?|\d+|[-/\u2013\u2014]+")
_RANGE_MARKS = frozenset("-/\u2013\u2014")


def _month_field(text: str) -> tuple[list[int], list[int] | None, int | None]:
    """A month field as people write it -> (start [month, day?], end or None, season).

    Handles `March`, `mar`, `3`, `March 5`, `5 March`, `November 18--22`, `July/August`,
    `Sept. 30 - Oct. 2` and seasons (`Spring`); ValueError for anything else.
    """
    tokens = _MONTH_FIELD_TOKEN.findall(text.replace(",", " "))
    if len(tokens) == 1 and tokens[0].lower() in _SEASON_BY_WORD:
        return [], None, _SEASON_BY_WORD[tokens[0].lower()]
    sides: list[list[int]] = [[]]
    days: list[list[int]] = [[]]
    for token in tokens:
        if token[0] in _RANGE_MARKS:
            if len(sides) == 2 or not (sides[0] or days[0]):
                raise ValueError(f"month {text!r} not recognised")
            sides.append([])
            days.append([])
            continue
        number = parse_month(token) if not token.isdigit() or not sides[-1] else None
        if token.isdigit() and (sides[-1] or len(sides) == 2 or int(token) > 12):
            days[-1].append(int(token))
        elif number is not None:
            sides[-1].append(number)
        else:
            raise ValueError(f"month {text!r} not recognised")
    if any(len(side) > 1 for side in sides) or any(len(day) > 1 for day in days) or not sides[0]:
        raise ValueError(f"month {text!r} not recognised")
    start = sides[0] + days[0]
    if len(sides) == 1:
        return start, None, None
    end_month = sides[1] or sides[0]
    end = end_month + days[1]
    if len(end) < len(start) or (not sides[1] and not days[1]):
        raise ValueError(f"month {text!r} not recognised")
    return start, end, None


def from_bibtex(year: str | None, month: str | None, day: str | None) -> dict:
    """Classic BibTeX year/month/day fields -> CSL date (month may hold a day, a range or a season)."""
    year_text = _strip(year or "")
    if not _DIGITS.fullmatch(year_text):
        raise ValueError(f"year {year!r} is not a number")
    year_number = int(year_text)
    parts = [year_number]
    end = None
    season = None
    if month is not None and _strip(month):
        number = parse_month(month)
        if number is not None:
            parts.append(number)
        else:
            start, end, season = _month_field(_strip(month).replace("\xa0", " "))
            parts += start
    if day is not None and _strip(day):
        if len(parts) < 2:
            raise ValueError("day without month")
        if len(parts) > 2:
            raise ValueError("day given both in month and in day")
        if not _strip(day).isdigit():
            raise ValueError(f"day {day!r} is not a number")
        parts.append(int(_strip(day)))
    date: dict = {"date-parts": [_check(parts)]}
    if end is not None:
        date["date-parts"].append(_check([year_number, *end]))
    if season is not None:
        date["season"] = season
    return date


def _parse_edtf_side(text: str) -> tuple[list[int], bool, int | None]:
    """One EDTF date -> (parts, circa, season)."""
    match = _EDTF_DATE.fullmatch(text)
    if match is None:
        if "X" in text.upper() or "u" in text:
            raise ValueError(f"unspecified digits in {text!r} are not supported")
        raise ValueError(f"not an EDTF date: {text!r}")
    year_text = match["year"].removeprefix("Y")
    if year_text == "-0000":
        raise ValueError("-0000 is not a year")
    parts = [int(year_text)]
    season = None
    if match["month"]:
        month = int(match["month"])
        if month in _SEASON_BY_EDTF and not match["day"]:
            season = _SEASON_BY_EDTF[month]
        else:
            parts.append(month)
    if match["day"]:
        parts.append(int(match["day"]))
    return _check(parts), match["qualifier"] is not None, season


def parse_edtf(text: str) -> dict:
    """biblatex date field (ISO 8601 / EDTF level 0-1, ranges, open ends) -> CSL date."""
    text = text.strip()
    if not text:
        raise ValueError("empty date")
    if "/" not in text:
        parts, circa, season = _parse_edtf_side(text)
        date: dict = {"date-parts": [parts]}
        if season:
            date["season"] = season
    else:
        sides = text.split("/")
        if len(sides) != 2:
            raise ValueError(f"too many '/' in {text!r}")
        if sides[0] in _OPEN_SIDES and sides[1] in _OPEN_SIDES:
            raise ValueError("range open at both ends")
        bounds, circa = [], False
        for side in sides:
            if side in _OPEN_SIDES:
                bounds.append([0])
                continue
            parts, side_circa, season = _parse_edtf_side(side)
            if season:
                raise ValueError("a season inside a range has no CSL form")
            if parts == [0]:
                raise ValueError("year 0 alone as a range side would read as an open end")
            bounds.append(parts)
            circa = circa or side_circa
        start, end = bounds
        if start != [0] and end != [0] and _latest(end) < _earliest(start):
            raise ValueError(f"range ends before it starts: {text!r}")
        date = {"date-parts": bounds}
    if circa:
        date["circa"] = True
    return date


def _earliest(parts: list[int]) -> tuple[int, int, int]:
    return (parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def _latest(parts: list[int]) -> tuple[int, int, int]:
    month = parts[1] if len(parts) > 1 else 12
    return (parts[0], month, parts[2] if len(parts) > 2 else _days_in(parts[0], month))


def _int_parts(parts) -> list[int]:
    """CSL allows strings in date-parts: coerce and validate one inner list."""
    if not isinstance(parts, list | tuple) or not 1 <= len(parts) <= 3:
        raise ValueError(f"bad date-parts {parts!r}")
    try:
        values = [int(p) for p in parts]
    except (TypeError, ValueError):
        raise ValueError(f"bad date-parts {parts!r}") from None
    return _check(values)


def _date_parts(date: dict) -> list[list[int]] | None:
    raw = date.get("date-parts")
    if not raw:
        return None
    if not isinstance(raw, list | tuple) or len(raw) > 2:
        raise ValueError(f"bad date-parts {raw!r}")
    return [_int_parts(p) for p in raw]


def _season(date: dict) -> int | None:
    season = date.get("season")
    if season in (None, ""):
        return None
    if str(season).isdigit() and int(season) in _EDTF_BY_SEASON:
        return int(season)
    if str(season).lower() in _SEASON_BY_WORD:
        return _SEASON_BY_WORD[str(season).lower()]
    raise ValueError(f"unknown season {season!r}")


def season_number(value) -> int | None:
    """CSL's season 1-4 for a season as written (1-4, "1"-"4", Spring..Winter, Fall), else None."""
    if isinstance(value, bool):
        return None
    try:
        return _season({"season": value})
    except ValueError:
        return None


def _edtf_year(year: int) -> str:
    if abs(year) > 9999:
        return f"Y{year}"  # EDTF level 1 spelling for years beyond four digits
    return f"-{-year:04d}" if year < 0 else f"{year:04d}"


def _edtf_side(parts: list[int]) -> str:
    return "-".join([_edtf_year(parts[0]), *(f"{p:02d}" for p in parts[1:])])


def to_edtf(date: dict) -> str:
    """CSL date -> biblatex `date` value; literal or raw dates return that string."""
    if date.get("literal"):
        return date["literal"]
    ranges = _date_parts(date)
    if ranges is None:
        if date.get("raw"):
            return date["raw"]
        raise ValueError("date has no date-parts, literal or raw")
    qualifier = "~" if date.get("circa") else ""
    season = _season(date)
    if len(ranges) == 1:
        parts = ranges[0]
        if season:
            if len(parts) != 1:
                raise ValueError("season together with a month has no EDTF form")
            return f"{_edtf_year(parts[0])}-{_EDTF_BY_SEASON[season]}{qualifier}"
        return _edtf_side(parts) + qualifier
    if season:
        raise ValueError("a season inside a range has no EDTF form")
    start, end = ranges
    if start == [0] and end == [0]:
        raise ValueError("range open at both ends")
    sides = ["" if side == [0] else _edtf_side(side) for side in (start, end)]
    marked = 0 if sides[0] else 1
    sides[marked] += qualifier
    return "/".join(sides)


def _start_parts(date: dict) -> list[int] | None:
    if date.get("literal"):
        return None
    ranges = _date_parts(date)
    if ranges is None and date.get("raw"):
        try:
            ranges = _date_parts(parse_edtf(date["raw"]))
        except ValueError:
            return None  # free text: the caller keeps it elsewhere
    if ranges is None or (len(ranges) == 2 and ranges[0] == [0]):
        return None
    return ranges[0]


def to_bibtex(date: dict) -> tuple[str | None, str | None, str | None]:
    """CSL date -> classic (year, month 1..12, day) strings; start of a range; None when missing."""
    parts = _start_parts(date)
    if parts is None:
        return None, None, None
    padded = [str(p) for p in parts] + [None] * (3 - len(parts))
    return padded[0], padded[1], padded[2]


def parse_ris(text: str) -> dict:
    """RIS PY/DA/Y1 value (`YYYY/MM/DD/other` or `YYYY-MM-DD`) -> CSL date."""
    text = text.strip()
    iso = _ISO_RIS.fullmatch(text)
    if iso:
        fields = [iso["year"], iso["month"], iso["day"] or ""]
        other = ""
    else:
        fields = [f.strip() for f in text.split("/", 3)]
        fields += [""] * (4 - len(fields))
        other = fields.pop()
    year, month, day = fields
    if not re.fullmatch(r"[0-9]{1,4}", year):
        raise ValueError(f"no year in RIS date {text!r}")
    parts = [int(year)]
    for label, value in (("month", month), ("day", day)):
        if not value:
            break
        if not re.fullmatch(r"[0-9]{1,2}", value):
            raise ValueError(f"bad {label} in RIS date {text!r}")
        parts.append(int(value))
    if day and not month:
        raise ValueError(f"day without month in RIS date {text!r}")
    date: dict = {"date-parts": [_check(parts)]}
    season = _SEASON_BY_WORD.get(other.lower())
    if season and len(parts) == 1:
        date["season"] = season
    return date


def to_ris(date: dict) -> tuple[str, str]:
    """CSL date -> (PY `YYYY`, DA `YYYY/MM/DD/` with empty parts left empty)."""
    parts = _start_parts(date)
    if parts is None:
        raise ValueError("date has no year to write to RIS")
    year = _edtf_year(parts[0])
    month = f"{parts[1]:02d}" if len(parts) > 1 else ""
    day = f"{parts[2]:02d}" if len(parts) > 2 else ""
    season = _season(date) if len(parts) == 1 else None
    other = _WORD_BY_SEASON[season] if season else ""
    return year, f"{year}/{month}/{day}/{other}"
