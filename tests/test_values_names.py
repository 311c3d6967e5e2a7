"""BibTeX names <-> CSL names: BibTeX's splitting rules, formatting, round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bibport.values.names import format_name, format_names, parse_name, parse_names, split_names

# Stand-in for values.latex: a few specials, ties, then braces dropped.
_STUB = (("{\\'E}", "É"), ("{\\'e}", "é"), ("{\\`a}", "à"), ("{\\relax Ch}", "Ch"), ("~", " "))


def decode(text: str) -> str:
    for latex, plain in _STUB:
        text = text.replace(latex, plain)
    return text.replace("{", "").replace("}", "")


def ident(text: str) -> str:
    return text


F, G, P, S, L = "family", "given", "non-dropping-particle", "suffix", "literal"

PARSE_ROWS = [
    # First von Last
    ("Donald E. Knuth", {F: "Knuth", G: "Donald E."}),
    ("Ludwig van Beethoven", {F: "Beethoven", G: "Ludwig", P: "van"}),
    ("Johannes Diderik van der Waals", {F: "Waals", G: "Johannes Diderik", P: "van der"}),
    ("Jean de la Fontaine", {F: "Fontaine", G: "Jean", P: "de la"}),
    # von ends at the last lower-case word; capitalised words after it are Last
    ("Jean de La Fontaine", {F: "La Fontaine", G: "Jean", P: "de"}),
    ("Giovanni della Casa", {F: "Casa", G: "Giovanni", P: "della"}),
    ("van Gogh", {F: "Gogh", P: "van"}),
    ("Plato", {F: "Plato"}),
    # no von: Last is the last word only, extended over hyphens
    ("Per Brinch Hansen", {F: "Hansen", G: "Per Brinch"}),
    ("John Smith-Jones", {F: "Smith-Jones", G: "John"}),
    ("Jean-Pierre Dupont", {F: "Dupont", G: "Jean-Pierre"}),
    ("J.-P. Sartre", {F: "Sartre", G: "J.-P."}),
    ("A. B. Cole", {F: "Cole", G: "A. B."}),
    ("D.~E. Knuth", {F: "Knuth", G: "D. E."}),
    ("bell hooks", {F: "hooks", P: "bell"}),  # BibTeX reads a lower-case first word as von
    # von Last, First
    ("Knuth, Donald E.", {F: "Knuth", G: "Donald E."}),
    ("van Beethoven, Ludwig", {F: "Beethoven", G: "Ludwig", P: "van"}),
    ("van der Waals, J. D.", {F: "Waals", G: "J. D.", P: "van der"}),
    ("de la Fontaine, Jean", {F: "Fontaine", G: "Jean", P: "de la"}),
    ("della Casa, Giovanni", {F: "Casa", G: "Giovanni", P: "della"}),
    ("De la Fontaine, Jean", {F: "Fontaine", G: "Jean", P: "De la"}),
    ("De Gaulle, Charles", {F: "De Gaulle", G: "Charles"}),
    ("{Brinch Hansen}, Per", {F: "Brinch Hansen", G: "Per"}),
    ("hooks, bell", {F: "hooks", G: "bell"}),
    ("Lopez Garcia, Ana", {F: "Lopez Garcia", G: "Ana"}),
    # von Last, Jr, First
    ("Ford, Jr., Henry", {F: "Ford", G: "Henry", S: "Jr."}),
    ("Ford, Jr, Henry", {F: "Ford", G: "Henry", S: "Jr"}),
    ("Gates, III, William H.", {F: "Gates", G: "William H.", S: "III"}),
    ("von Neumann, Jr., John", {F: "Neumann", G: "John", P: "von", S: "Jr."}),
    ("Ford, Jr.,", {F: "Ford", S: "Jr."}),
    # corporate names
    ("{National Aeronautics and Space Administration}", {L: "National Aeronautics and Space Administration"}),
    ("{IEEE}", {L: "IEEE"}),
    ("  {IEEE} ", {L: "IEEE"}),
    # special characters: their first letter decides the case
    ("{\\'E}mile Zola", {F: "Zola", G: "Émile"}),
    ("Zola, {\\'E}mile", {F: "Zola", G: "Émile"}),
    ("Thomas {\\`a} Kempis", {F: "Kempis", G: "Thomas", P: "à"}),
    ("{\\relax Ch}ristopher Smith", {F: "Smith", G: "Christopher"}),
    ("{\\'E}", {F: "É"}),  # a special character is a letter, not a corporate name
    ("Juan {de la Cruz}", {F: "de la Cruz", G: "Juan"}),  # a braced group has no case
    # whitespace
    ("  Knuth ,\n   Donald\tE. ", {F: "Knuth", G: "Donald E."}),
    ("Donald\n E.\n Knuth", {F: "Knuth", G: "Donald E."}),
]


@pytest.mark.parametrize(("raw", "expected"), PARSE_ROWS)
def test_parse_name(raw, expected):
    assert parse_name(raw, decode) == expected


@pytest.mark.parametrize("raw", ["", "   ", "A, B, C, D", "{Knuth, Donald", "Knuth}, Donald", ", Donald"])
def test_parse_name_rejects(raw):
    with pytest.raises(ValueError):
        parse_name(raw, decode)


SPLIT_ROWS = [
    ("Knuth, Donald and Lamport, Leslie", ["Knuth, Donald", "Lamport, Leslie"]),
    ("A AND B And c", ["A", "B", "c"]),
    ("A\n  and\tB", ["A", "B"]),
    ("{Barnes and Noble} and Smith", ["{Barnes and Noble}", "Smith"]),
    ("Sandy Anderson and Andy Band", ["Sandy Anderson", "Andy Band"]),
    ("and A and and B and", ["A", "B"]),
    ("A~and~B", ["A~and~B"]),
    ("", []),
]


@pytest.mark.parametrize(("raw", "expected"), SPLIT_ROWS)
def test_split_names(raw, expected):
    assert split_names(raw) == expected


LIST_ROWS = [
    ("Knuth, Donald and Leslie Lamport", ([{F: "Knuth", G: "Donald"}, {F: "Lamport", G: "Leslie"}], False)),
    ("Knuth, Donald and others", ([{F: "Knuth", G: "Donald"}], True)),
    ("Knuth, Donald AND Others", ([{F: "Knuth", G: "Donald"}], True)),
    ("others", ([], True)),
    ("{IEEE} and Smith", ([{L: "IEEE"}, {F: "Smith"}], False)),
    ("{others}", ([{L: "others"}], False)),
]


@pytest.mark.parametrize(("raw", "expected"), LIST_ROWS)
def test_parse_names(raw, expected):
    assert parse_names(raw, decode) == expected


FORMAT_ROWS = [
    ({F: "Knuth", G: "Donald E."}, "Knuth, Donald E."),
    ({F: "Neumann", G: "John", P: "von", S: "Jr."}, "von Neumann, Jr., John"),
    ({F: "Ford", S: "Jr."}, "Ford, Jr.,"),
    ({F: "Plato"}, "Plato"),
    ({F: "Gogh", P: "van"}, "van Gogh"),
    ({L: "IEEE"}, "{IEEE}"),
    ({F: "Lopez Garcia", G: "Ana"}, "Lopez Garcia, Ana"),  # the comma form already keeps it whole
    ({F: "Lopez Garcia"}, "{Lopez Garcia},"),  # braces alone would make it a literal
    ({F: "de Gaulle", G: "Charles"}, "{de Gaulle}, Charles"),
    ({F: "Lopez de Garcia", G: "Ana"}, "{Lopez de Garcia}, Ana"),
    ({F: "Smith, Jones", G: "A."}, "{Smith, Jones}, A."),
    ({F: "Smith", G: "Jack and Jill"}, "Smith, {Jack and Jill}"),
    ({F: "Fontaine", G: "Jean", "dropping-particle": "de", P: "la"}, "de la Fontaine, Jean"),
]


@pytest.mark.parametrize(("name", "expected"), FORMAT_ROWS)
def test_format_name(name, expected):
    assert format_name(name, ident) == expected


def test_format_name_passes_parts_through_encode():
    assert format_name({F: "Zola", G: "Émile"}, lambda s: s.replace("É", "{\\'E}")) == "Zola, {\\'E}mile"
    assert format_name({L: "AT&T"}, lambda s: s.replace("&", "\\&")) == "{AT\\&T}"
    # "{\\'Ecole}" alone would be a special character: protect the literal once more
    assert format_name({L: "École"}, lambda s: s.replace("É", "\\'E")) == "{{\\'Ecole}}"


@pytest.mark.parametrize("name", [{G: "Madonna"}, {}, {P: "van"}])
def test_format_name_rejects(name):
    with pytest.raises(ValueError):
        format_name(name, ident)


def test_format_names():
    names = [{F: "Knuth", G: "Donald"}, {L: "IEEE"}]
    assert format_names(names, False, ident) == "Knuth, Donald and {IEEE}"
    assert format_names(names, True, ident) == "Knuth, Donald and {IEEE} and others"
    assert format_names([], True, ident) == "others"


# --- round trips -------------------------------------------------------------------------

_capital = st.sampled_from("ABCDÉÖŁZ")
_tail = st.text(alphabet="abcéèüßo", min_size=1, max_size=6)
_word = st.builds(lambda c, t: c + t, _capital, _tail)
_hyphenated = st.builds(lambda a, b: f"{a}-{b}", _word, _word)
_initials = st.sampled_from(["A.", "J.-P.", "A. B.", "M.-C. F."])
_odd = st.sampled_from(["and", "de", "x", "-", ".", "a-", "-b", ",", "O'Neil", "AND", "others", "É"])
_plain = st.lists(st.one_of(_word, _hyphenated), min_size=1, max_size=3).map(" ".join)
_hard = st.lists(st.one_of(_word, _hyphenated, _odd), min_size=1, max_size=4).map(" ".join)
_text = st.one_of(_plain, _hard)
_particle = st.sampled_from(["van", "von", "de", "de la", "van der", "della", "d'", "zu", "van den"])
_suffix = st.sampled_from(["Jr.", "Jr", "Sr.", "III", "Jr., III", "and"])
_given = st.one_of(_text, _initials)


@st.composite
def _names(draw):
    if draw(st.integers(0, 5)) == 0:
        return {L: draw(_text)}
    name = {F: draw(_text)}
    for key, strategy in ((G, _given), (P, _particle), (S, _suffix)):
        if draw(st.booleans()):
            name[key] = draw(strategy)
    return name


@given(_names())
def test_round_trip_name(name):
    assert parse_name(format_name(name, ident), ident) == name


@given(st.lists(_names(), max_size=4), st.booleans())
def test_round_trip_name_list(names, others):
    assert parse_names(format_names(names, others, ident), ident) == (names, others)


def test_unsplittable_names_are_kept_whole_when_asked():
    told = []
    people, others = parse_names("A, B, C, D and Knuth, Donald and , and others", ident,
                                 on_bad=lambda name, problem: told.append((name, str(problem))))
    assert people == [{L: "A, B, C, D"}, {F: "Knuth", G: "Donald"}, {L: ","}] and others
    assert [name for name, _ in told] == ["A, B, C, D", ","]
    with pytest.raises(ValueError):
        parse_names("A, B, C, D", ident)  # without on_bad, the error stays the caller's
