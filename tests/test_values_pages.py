"""Pages: BibTeX `--` ranges <-> CSL `-` ranges, RIS SP/EP, first page."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bibport.values.pages import first_page, split_range, to_bibtex, to_csl

TO_CSL_ROWS = [
    ("12--15", "12-15"),
    ("12-15", "12-15"),
    ("12---15", "12-15"),
    ("12\u201415", "12-15"),  # em dash
    ("12\u201315", "12-15"),  # en dash
    ("12 -- 15", "12-15"),
    ("1--3, 5--7", "1-3, 5-7"),
    ("1--3,5--7", "1-3, 5-7"),
    ("  1--3 ,\n 5 ", "1-3, 5"),
    ("e1234", "e1234"),
    ("S12--S15", "S12-S15"),
    ("12+", "12+"),
    ("xii--xv", "xii-xv"),
    ("e-123", "e-123"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), TO_CSL_ROWS)
def test_to_csl(text, expected):
    assert to_csl(text) == expected


TO_BIBTEX_ROWS = [
    ("12-15", "12--15"),
    ("12\u201315", "12--15"),
    ("12 - 15", "12--15"),
    ("1-3, 5-7", "1--3, 5--7"),
    ("1-3, 5", "1--3, 5"),
    ("S12-S15", "S12--S15"),
    ("xii-xv", "xii--xv"),
    ("XII-XV", "XII--XV"),
    ("e1234", "e1234"),
    ("e-123", "e-123"),  # an article id, not a range
    ("C-12", "C-12"),  # roman and arabic ends: not a range
    ("1-2-3", "1-2-3"),
    ("12+", "12+"),
]


@pytest.mark.parametrize(("text", "expected"), TO_BIBTEX_ROWS)
def test_to_bibtex(text, expected):
    assert to_bibtex(text) == expected


SPLIT_ROWS = [
    ("12-15", ("12", "15")),
    ("12--15", ("12", "15")),
    ("S12-S15", ("S12", "S15")),
    ("12", ("12", None)),
    ("e1234", ("e1234", None)),
    ("e-123", ("e-123", None)),
    ("1-3, 5-7", ("1-3, 5-7", None)),  # a list goes whole into SP rather than lose pages
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_ROWS)
def test_split_range(text, expected):
    assert split_range(text) == expected


FIRST_ROWS = [
    ("12-15", "12"), ("12--15", "12"), ("1-3, 5-7", "1"), ("e1234", "e1234"), ("12+", "12"),
    ("xii-xv", "xii"), ("e-123", "e-123"), ("", None), ("  ", None),
]


@pytest.mark.parametrize(("text", "expected"), FIRST_ROWS)
def test_first_page(text, expected):
    assert first_page(text) == expected


# --- round trips -------------------------------------------------------------------------

_number = st.integers(1, 99999).map(str)
_prefixed = st.builds(lambda p, n: p + n, st.sampled_from(["S", "e", "A", "R"]), _number)
_roman = st.sampled_from(["i", "iv", "xii", "xv", "XLII", "MCM"])
_single = st.one_of(_number, _prefixed, _roman, _number.map(lambda n: n + "+"), st.just("e-123"))
_digit_page = st.one_of(_number, _prefixed)
_range_ends = st.one_of(st.tuples(_digit_page, _digit_page), st.tuples(_roman, _roman))


def _pages(joiner):
    item = st.one_of(_single, _range_ends.map(lambda ends: joiner.join(ends)))
    return st.lists(item, min_size=1, max_size=4).map(", ".join)


@given(_pages("-"))
def test_round_trip_csl(page):
    assert to_csl(to_bibtex(page)) == page


@given(_pages("--"))
def test_round_trip_bibtex(pages):
    assert to_bibtex(to_csl(pages)) == pages
