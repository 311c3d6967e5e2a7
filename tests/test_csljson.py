"""CSL-JSON reader validation, writer profiles, schema validity, golden cases."""

import functools
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bibport import csl
from bibport.diagnostics import Report
from bibport.formats import csljson
from conftest import require_shared

CASES = Path(__file__).parent / "cases"


@functools.cache
def schema() -> dict:
    return json.loads(require_shared("schemas", "csl-data.json").read_text(encoding="utf-8"))


def read(text):
    report = Report()
    return csljson.read(text, report, source="t.json"), report


def write(items, **options):
    report = Report()
    text = csljson.write(items, report, **options)
    jsonschema.validate(json.loads(text), schema())
    return text


def errors(report):
    return [(d.code, d.line, d.key, d.message) for d in report.errors]


def test_known_keys_are_the_schema_properties():
    assert set(csl.KEY_ORDER) == set(schema()["items"]["properties"])


def test_valid_items_with_lenient_forms():
    text = '[\n  {"id": "a", "type": "book", "issued": {"date-parts": [["2003", "05", ""]]},\n' \
           '   "edition": 2,' \
           '   "author": [{"family": "Doe", "given": "J."}], "PMID": 123}\n]\n'
    items, report = read(text)
    assert items == [{"id": "a", "type": "book", "author": [{"family": "Doe", "given": "J."}],
                      "issued": {"date-parts": [[2003, 5]]}, "edition": "2", "PMID": "123"}]
    assert [d.code for d in report.diagnostics] == ["csljson-lenient"]
    assert report.diagnostics[0].line == 2


def test_item_errors_name_index_id_and_line():
    text = """[
  {"id": "ok", "type": "book"},
  {"id": "bad", "type": "inproceedings"},
  {"type": "book"},
  {"id": "names", "type": "book", "author": ["John Smith"]},
  {"id": "OK", "type": "book"},
  {"id": 5, "type": "book"},
  {"id": "5", "type": "book"},
  {"id": "d", "type": "book", "issued": {"date-parts": [[2003, 13]]}},
  {"id": "e", "type": "book", "issued": "not a date"},
  "text",
  {"id": true, "type": "book"}
]"""
    items, report = read(text)
    assert [i["id"] for i in items] == ["ok", 5]
    got = errors(report)
    assert [(c, line, key) for c, line, key, _m in got] == [
        ("csljson-invalid", 3, "bad"), ("csljson-invalid", 4, None), ("csljson-invalid", 5, "names"),
        ("csljson-duplicate-id", 6, "OK"), ("csljson-duplicate-id", 8, "5"), ("csljson-invalid", 9, "d"),
        ("csljson-invalid", 10, "e"), ("csljson-not-object", 11, None), ("csljson-invalid", 12, None),
    ]
    messages = [m for *_rest, m in got]
    assert messages[0] == ("item 2 (id \"bad\"): type 'inproceedings' is not a CSL type "
                           "(use 'paper-conference')")
    assert messages[1] == "item 3: has no id"
    assert messages[2].startswith('item 4 (id "names"): author[1] is a string')
    assert messages[3] == ('item 5 (id "OK") collides with item 1 (id "ok"): ids must differ beyond case '
                           "and number/string")
    assert messages[4].startswith('item 7 (id "5") collides with item 6 (id 5)')


@pytest.mark.parametrize(("season", "kept", "warned"), [
    (1, 1, False), (4, 4, False), ("3", 3, False), (2.0, 2, False), ("", None, False),
    ("Summer", 2, True), ("fall", 3, True),
    (5, None, True), (0, None, True), ("22:38:38", None, True), (True, None, True), ("season-01", None, True),
])
def test_season_outside_csl_values_is_dropped_with_a_warning_naming_the_item(season, kept, warned):
    # CSL's seasons are 1-4 (terms season-01..04); a warning, not an error, as Zotero's exports put the
    # time of access in `season` and the item is otherwise sound
    text = json.dumps([{"id": "ok", "type": "book"},
                       {"id": "s", "type": "book", "issued": {"date-parts": [[2003]], "season": season}}], indent=1)
    items, report = read(text)
    assert items[1]["issued"].get("season") == kept
    assert report.errors == []
    got = [(d.code, d.line, d.key) for d in report.warnings]
    assert got == ([("csljson-lenient", 6, "s")] if warned else [])
    if warned:
        assert report.warnings[0].message.startswith('item 2 (id "s"): issued.season ')


@pytest.mark.parametrize("name", [
    {"literal": "ACM", "family": "Association"}, {"literal": "ACM", "given": "A."},
    {"literal": "ACM", "non-dropping-particle": "de"}, {"literal": "ACM", "suffix": "Jr."},
])
def test_name_with_literal_and_parts_is_an_error_naming_the_item(name):
    text = json.dumps([{"id": "ok", "type": "book"},
                       {"id": "n", "type": "book", "author": [{"family": "Lee"}, name]}], indent=1)
    items, report = read(text)
    assert [i["id"] for i in items] == ["ok"]
    [(code, line, key, message)] = errors(report)
    assert (code, line, key) == ("csljson-invalid", 6, "n")
    parts = ", ".join(part for part in name if part != "literal")
    assert message == f'item 2 (id "n"): author[2] has both literal and {parts}: a name is either one literal or its parts'


def test_literal_name_with_only_flags_is_fine():
    items, report = read('[{"id": "a", "type": "book", "author": [{"literal": "ACM", "parse-names": false}]}]')
    assert items[0]["author"] == [{"literal": "ACM", "parse-names": False}] and report.diagnostics == []


@pytest.mark.parametrize(("text", "code", "line"), [
    ('[{"id": "a", "type": "book"},]', "json-syntax", 1),
    ('[\n{"id": "a",\n "type": book}]', "json-syntax", 3),
    ('{"id": "a", "type": "book"}', "csljson-not-array", 1),
    ('[{"id": "a", "type": "book", "volume": NaN}]', "json-invalid", 1),
    ('[{"id": "a", "type": "book", "volume": -Infinity}]', "json-invalid", 1),
    ('[{"id": "a", "type": "book", "title": "x", "title": "y"}]', "json-invalid", 1),
    ('[{"id": "a", "type": "book", "title": "\\ud800"}]', "json-invalid", 1),
    ("[" * 50000 + "]" * 50000, "json-too-deep", None),
    ('[{"id": "a", "type": "book", "custom": {"x": ' + "[" * 100 + "]" * 100 + "}}]", "json-too-deep", None),
    ("", "json-syntax", 1),
])
def test_hostile_json(text, code, line):
    items, report = read(text)
    assert items == []
    assert [(d.code, d.line) for d in report.errors][:1] == [(code, line)]
    report.render()


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["id", "type", "author", "issued", "title", "volume", "custom", "x", "date-parts", "family"]),
        inner, max_size=4)), max_leaves=20).map(lambda v: json.dumps(v))))
def test_reader_never_raises(text):
    items, report = read(text)
    assert isinstance(items, list)
    write(items)
    write(items, profile="zotero")


def test_read_write_round_trip_and_stability():
    items = [{"id": "x", "type": "chapter", "title": "<i>T</i> &amp; <span class=\"nocase\">Xen</span>",
              "author": [{"family": "Neumann", "given": "John", "non-dropping-particle": "von",
                          "suffix": "Jr."}],
              "issued": {"date-parts": [[2003, 10], [2004]]}, "page": "1-2",
              "custom": {"bibtex": {"foo": "bar"}}}]
    text = write(items)
    assert text == write(items) and text.endswith("}\n]\n")
    back, report = read(text)
    assert not report.diagnostics
    assert back == [csl.normalize({**items[0], "citation-key": "x"})]


def test_zotero_profile():
    item = {"id": "k", "type": "software", "title": "A &amp; B", "version": "1.2",
            "author": [{"family": "Neumann", "given": "John", "non-dropping-particle": "von",
                        "suffix": "Jr."}, {"literal": "ACM"}],
            "container-title-short": "Abbr", "event": "Conf", "DOI": "https://doi.org/10.1/x",
            "original-date": {"date-parts": [[1900]]}, "editor": [{"family": "E", "given": "F"}],
            "custom": {"bibtex": {"eid": "e1"}}, "note": "Existing"}
    out = json.loads(write([item], profile="zotero"))[0]
    assert out["type"] == "book" and out["version"] == "1.2"
    assert out["author"] == [{"family": "von Neumann", "given": "John, Jr."}, {"literal": "ACM"}]
    assert out["journalAbbreviation"] == "Abbr" and out["DOI"] == "10.1/x"
    assert out["title"] == "A & B" and out["citation-key"] == "k"
    assert out["note"].split("\n") == ["Existing", "event: Conf", "original-date: 1900", "event-title: Conf",
                                       'bibtex: {"eid": "e1"}']
    assert "custom" not in out
    conf = json.loads(write([{"id": "c", "type": "paper-conference", "event": "E"}], profile="zotero"))[0]
    assert conf["event"] == conf["event-title"] == "E"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("csljson-*")))
def test_golden(case):
    folder = CASES / case
    items, report = read((folder / "in.json").read_text(encoding="utf-8"))
    assert not report.errors
    assert write(items) == (folder / "out.csl.json").read_text(encoding="utf-8")
    write(items, profile="zotero")


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("ris-*")))
def test_ris_golden_outputs_are_schema_valid(case):
    expected = json.loads((CASES / case / "out.csl.json").read_text(encoding="utf-8"))
    jsonschema.validate(expected, schema())
    write(expected)
