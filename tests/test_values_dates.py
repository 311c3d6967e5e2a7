"""Dates: month names, BibTeX fields, biblatex EDTF, RIS PY/DA, and their round trips."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bibport.values.dates import (
    from_bibtex,
    parse_edtf,
    parse_month,
    parse_ris,
    season_number,
    to_bibtex,
    to_edtf,
    to_ris,
)

MONTH_ROWS = [
    ("mar", 3), ("Mar.", 3), ("March", 3), ("MARCH", 3), ("3", 3), ("03", 3), (" {mar} ", 3),
    ("sep", 9), ("Sept.", 9), ("december", 12), ("12", 12), ("may", 5),
    ("janvier", 1), ("février", 2), ("fevrier", 2), ("août", 8), ("Januar", 1), ("März", 3),
    ("Dezember", 12),
    ("13", None), ("0", None), ("00", None), ("marc", None), ("", None), ("jan-feb", None),
]


@pytest.mark.parametrize(("text", "expected"), MONTH_ROWS)
def test_parse_month(text, expected):
    assert parse_month(text) == expected


BIBTEX_ROWS = [
    (("2003", None, None), {"date-parts": [[2003]]}),
    (("{2003}", None, None), {"date-parts": [[2003]]}),
    ((" 2003 ", "mar", None), {"date-parts": [[2003, 3]]}),
    (("2003", "October", "5"), {"date-parts": [[2003, 10, 5]]}),
    (("2003", "10", "05"), {"date-parts": [[2003, 10, 5]]}),
    (("2004", "feb", "29"), {"date-parts": [[2004, 2, 29]]}),
    (("2000", "2", "29"), {"date-parts": [[2000, 2, 29]]}),
    (("2003", "", ""), {"date-parts": [[2003]]}),
]


@pytest.mark.parametrize(("fields", "expected"), BIBTEX_ROWS)
def test_from_bibtex(fields, expected):
    assert from_bibtex(*fields) == expected


@pytest.mark.parametrize("fields", [
    ("in press", None, None), ("2003a", None, None), (None, "mar", None), ("", None, None),
    ("2003", "foo", None), ("2003", "apr", "31"), ("2003", "feb", "29"), ("1900", "feb", "29"),
    ("2003", None, "5"), ("2003", "mar", "0"), ("2003", "mar", "5th"),
])
def test_from_bibtex_rejects(fields):
    with pytest.raises(ValueError):
        from_bibtex(*fields)


EDTF_ROWS = [
    ("2003", {"date-parts": [[2003]]}),
    ("2003-05", {"date-parts": [[2003, 5]]}),
    ("2003-05-17", {"date-parts": [[2003, 5, 17]]}),
    ("2003-05-17T10:20:30Z", {"date-parts": [[2003, 5, 17]]}),
    ("2003-05-17T10:20+02:00", {"date-parts": [[2003, 5, 17]]}),
    ("2004-02-29", {"date-parts": [[2004, 2, 29]]}),
    (" 2003/2005 ", {"date-parts": [[2003], [2005]]}),
    ("2003-05/2003-07-12", {"date-parts": [[2003, 5], [2003, 7, 12]]}),
    ("2003-05/2003", {"date-parts": [[2003, 5], [2003]]}),
    ("2003/2003", {"date-parts": [[2003], [2003]]}),
    ("2003/..", {"date-parts": [[2003], [0]]}),
    ("2003/", {"date-parts": [[2003], [0]]}),
    ("../2003-04", {"date-parts": [[0], [2003, 4]]}),
    ("/2003", {"date-parts": [[0], [2003]]}),
    ("2003?", {"date-parts": [[2003]], "circa": True}),
    ("2003-05~", {"date-parts": [[2003, 5]], "circa": True}),
    ("2003-05-17%", {"date-parts": [[2003, 5, 17]], "circa": True}),
    ("2003~/2005", {"date-parts": [[2003], [2005]], "circa": True}),
    ("2003/2005?", {"date-parts": [[2003], [2005]], "circa": True}),
    ("2003-21", {"date-parts": [[2003]], "season": 1}),
    ("2003-24~", {"date-parts": [[2003]], "season": 4, "circa": True}),
    ("-0044", {"date-parts": [[-44]]}),
    ("-0044-03-15", {"date-parts": [[-44, 3, 15]]}),
    ("0000", {"date-parts": [[0]]}),
    ("-0004-02-29", {"date-parts": [[-4, 2, 29]]}),  # astronomical -4 (5 BC) is a leap year
    ("Y-12000", {"date-parts": [[-12000]]}),
    ("Y170002", {"date-parts": [[170002]]}),
]


@pytest.mark.parametrize(("text", "expected"), EDTF_ROWS)
def test_parse_edtf(text, expected):
    assert parse_edtf(text) == expected


@pytest.mark.parametrize("text", [
    "", "2003-13", "2003-00", "2003-04-31", "2003-02-29", "1900-02-29", "2005/2003",
    "2003-05-17/2003-05-16", "20XX", "199X", "19uu", "..", "../..", "/", "abc", "03", "2003/2004/2005",
    "2003-21/2004", "-0000", "-0005-02-29", "-0005/0000", "2003-5-1", "2003-05-17T25", "Y2003", "2003-25",
])
def test_parse_edtf_rejects(text):
    with pytest.raises(ValueError):
        parse_edtf(text)


TO_EDTF_ROWS = [
    ({"date-parts": [[2003]]}, "2003"),
    ({"date-parts": [[2003, 5, 7]]}, "2003-05-07"),
    ({"date-parts": [["2003", "5"]]}, "2003-05"),  # the schema allows strings
    ({"date-parts": [[2003], [2005, 1]]}, "2003/2005-01"),
    ({"date-parts": [[2003], [0]]}, "2003/"),
    ({"date-parts": [[0], [2003]]}, "/2003"),
    ({"date-parts": [[0], [2003]], "circa": True}, "/2003~"),
    ({"date-parts": [[2003, 5]], "circa": True}, "2003-05~"),
    ({"date-parts": [[2003]], "season": 3}, "2003-23"),
    ({"date-parts": [[-44, 3, 15]]}, "-0044-03-15"),
    ({"date-parts": [[12345]]}, "Y12345"),
    ({"raw": "Spring 2003"}, "Spring 2003"),
    ({"literal": "13th century"}, "13th century"),
]


@pytest.mark.parametrize(("date", "expected"), TO_EDTF_ROWS)
def test_to_edtf(date, expected):
    assert to_edtf(date) == expected


@pytest.mark.parametrize("date", [
    {}, {"date-parts": [[2003, 13]]}, {"date-parts": [[2003, 2, 30]]}, {"date-parts": [[0], [0]]},
    {"date-parts": [[2003, 4]], "season": 1}, {"date-parts": [["x"]]}, {"date-parts": [[1, 2, 3, 4]]},
])
def test_to_edtf_rejects(date):
    with pytest.raises(ValueError):
        to_edtf(date)


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1), (4, 4), ("2", 2), ("Spring", 1), ("fall", 3), ("WINTER", 4),
    (0, None), (5, None), ("22:38:38", None), (True, None), ("", None), (None, None),
])
def test_season_number(value, expected):
    assert season_number(value) == expected


TO_BIBTEX_ROWS = [
    ({"date-parts": [[2003]]}, ("2003", None, None)),
    ({"date-parts": [[2003, 3, 5]]}, ("2003", "3", "5")),
    ({"date-parts": [[2003, 3], [2004, 5]]}, ("2003", "3", None)),
    ({"date-parts": [[2003], [0]]}, ("2003", None, None)),
    ({"date-parts": [[0], [2003]]}, (None, None, None)),
    ({"raw": "2003-05"}, ("2003", "5", None)),
    ({"raw": "Spring 2003"}, (None, None, None)),
    ({"literal": "13th century"}, (None, None, None)),
]


@pytest.mark.parametrize(("date", "expected"), TO_BIBTEX_ROWS)
def test_to_bibtex(date, expected):
    assert to_bibtex(date) == expected


RIS_ROWS = [
    ("2003", {"date-parts": [[2003]]}),
    ("2003/10/05/", {"date-parts": [[2003, 10, 5]]}),
    ("2003/10//", {"date-parts": [[2003, 10]]}),
    ("2003///", {"date-parts": [[2003]]}),
    ("2003///Spring", {"date-parts": [[2003]], "season": 1}),
    ("2003///fall", {"date-parts": [[2003]], "season": 3}),
    ("2003///12:00 PM", {"date-parts": [[2003]]}),
    ("2003-10-05", {"date-parts": [[2003, 10, 5]]}),
    ("2003/10/05", {"date-parts": [[2003, 10, 5]]}),
    ("2004/2/29/", {"date-parts": [[2004, 2, 29]]}),
]


@pytest.mark.parametrize(("text", "expected"), RIS_ROWS)
def test_parse_ris(text, expected):
    assert parse_ris(text) == expected


@pytest.mark.parametrize("text", [
    "", "/10/05/", "n.d.", "2003/13//", "2003//05/", "2003/02/29/", "2003-13-01",
])
def test_parse_ris_rejects(text):
    with pytest.raises(ValueError):
        parse_ris(text)


TO_RIS_ROWS = [
    ({"date-parts": [[2003]]}, ("2003", "2003///")),
    ({"date-parts": [[2003, 10]]}, ("2003", "2003/10//")),
    ({"date-parts": [[2003, 10, 5]]}, ("2003", "2003/10/05/")),
    ({"date-parts": [[2003, 10], [2004]]}, ("2003", "2003/10//")),
    ({"date-parts": [[2003]], "season": 2}, ("2003", "2003///Summer")),
    ({"date-parts": [[987]]}, ("0987", "0987///")),
]


@pytest.mark.parametrize(("date", "expected"), TO_RIS_ROWS)
def test_to_ris(date, expected):
    assert to_ris(date) == expected


@pytest.mark.parametrize("date", [{"literal": "n.d."}, {"date-parts": [[0], [2003]]}, {}])
def test_to_ris_rejects(date):
    with pytest.raises(ValueError):
        to_ris(date)


# --- round trips -------------------------------------------------------------------------

_LEAP_SAFE_DAYS = {2: 28, 4: 30, 6: 30, 9: 30, 11: 30}


_YEARS = st.one_of(st.integers(-9999, 9999), st.integers(-10**6, 10**6))


@st.composite
def _parts(draw, years=_YEARS):
    parts = [draw(years)]
    if draw(st.booleans()):
        parts.append(draw(st.integers(1, 12)))
        if draw(st.booleans()):
            parts.append(draw(st.integers(1, _LEAP_SAFE_DAYS.get(parts[1], 31))))
    return parts


def _key(parts, fill):
    return tuple(parts) + fill[len(parts):]


@st.composite
def _edtf_dates(draw):
    kind = draw(st.sampled_from(["single", "season", "range", "open-end", "open-start"]))
    if kind == "single":
        date = {"date-parts": [draw(_parts())]}
    elif kind == "season":
        date = {"date-parts": [[draw(st.integers(-9999, 9999))]], "season": draw(st.integers(1, 4))}
    else:
        start = [0] if kind == "open-start" else draw(_parts())
        end = [0] if kind == "open-end" else draw(_parts())
        assume(start != [0] or kind == "open-start")
        assume(end != [0] or kind == "open-end")
        if kind == "range":
            assume(_key(end, (0, 12, 31)) >= _key(start, (0, 1, 1)))
        date = {"date-parts": [start, end]}
    if draw(st.booleans()):
        date["circa"] = True
    return date


@given(_edtf_dates())
def test_round_trip_edtf(date):
    assert parse_edtf(to_edtf(date)) == date


@given(_parts(years=st.integers(0, 9999)), st.integers(0, 4))
def test_round_trip_ris(parts, season):
    date = {"date-parts": [parts]}
    if season and len(parts) == 1:
        date["season"] = season
    assert parse_ris(to_ris(date)[1]) == date


@given(_parts(years=st.integers(0, 10**6)))
def test_round_trip_bibtex_fields(parts):
    date = {"date-parts": [parts]}
    assert from_bibtex(*to_bibtex(date)) == date


# Month fields as real bibliographies write them (seen in the plume-bib corpus).
MONTH_FIELD_ROWS = [
    ("March 5", {"date-parts": [[2001, 3, 5]]}),
    ("September\xa05,", {"date-parts": [[2001, 9, 5]]}),
    ("November\xa018\u201322,", {"date-parts": [[2001, 11, 18], [2001, 11, 22]]}),
    ("July/August", {"date-parts": [[2001, 7], [2001, 8]]}),
    ("Sept. 30 -- Oct. 2", {"date-parts": [[2001, 9, 30], [2001, 10, 2]]}),
    ("Spring", {"date-parts": [[2001]], "season": 1}),
    ("fall", {"date-parts": [[2001]], "season": 3}),
]


@pytest.mark.parametrize("month,expected", MONTH_FIELD_ROWS)
def test_from_bibtex_month_field_forms(month, expected):
    assert from_bibtex("2001", month, None) == expected


@pytest.mark.parametrize("month", ["March/", "13", "Marchember 5", "5 6 7", "March 5 -- 4 April 3"])
def test_from_bibtex_month_field_garbage(month):
    with pytest.raises(ValueError):
        from_bibtex("2001", month, None)
