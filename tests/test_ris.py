"""RIS: mapping tables, writer, reader, hostile input, round trips, golden cases."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bibport import csl
from bibport.diagnostics import Report
from bibport.formats import bibtex, csljson, ris
from bibport.mappings import ris as table

CASES = Path(__file__).parent / "cases"


def write(items, **options):
    report = Report()
    return ris.write(items, report, **options), report


def read(text):
    report = Report()
    return ris.read(text, report, source="t.ris"), report


def codes(report):
    return [(d.severity, d.code, d.line) for d in report.diagnostics]


# --- tables --------------------------------------------------------------------------------------

def test_every_type_row_names_a_csl_type_and_a_tag_shape():
    for row in table.TYPES:
        assert row.csl in csl.TYPES, row
        assert re.fullmatch(r"[A-Z]{2,8}", row.ty), row
        assert row.direction in (table.BOTH, table.READ, table.WRITE)
        if row.direction != table.BOTH:
            assert row.reason or row.direction == table.READ, f"lossy row without a reason: {row}"


def test_every_csl_type_has_a_ty_and_every_written_ty_reads_back():
    for kind in csl.TYPES:
        ty = table.CSL_TO_TY[kind]
        assert ty in table.TY_TO_CSL, kind
    assert table.UNKNOWN_TY_TYPE in csl.TYPES


def test_every_tag_row_names_a_csl_variable():
    for row in table.TAGS:
        assert row.variable in csl.VARIABLE_KIND, row
        assert re.fullmatch(r"[A-Z][A-Z0-9]", row.tag), row
        assert not (row.tys and row.exclude), row
    for tag in table.TAG_ORDER + table.REPEATABLE + table.QUIET_TAGS:
        assert re.fullmatch(r"[A-Z][A-Z0-9]", tag)
    assert len(set(table.TAG_ORDER)) == len(table.TAG_ORDER)


def test_write_rules_are_unambiguous_per_ty():
    """On one TY, two variables never share a written tag (else reading could not tell them apart)."""
    for ty in sorted(set(table.CSL_TO_TY.values())):
        seen = {}
        for variable in csl.VARIABLE_KIND:
            tag = table.write_tag(ty, variable)
            if tag is None:
                continue
            assert tag in table.TAG_ORDER, (ty, variable, tag)
            if tag in ("DA", "PY"):
                continue
            assert tag not in seen, (ty, tag, seen.get(tag), variable)
            seen[tag] = variable
            assert table.read_variable(tag, ty) == variable, (ty, tag, variable)


def test_losses_cover_every_variable_without_a_tag():
    writable = {v for v in csl.VARIABLE_KIND for ty in set(table.CSL_TO_TY.values())
                if table.write_tag(ty, v)}
    lost = {variable for variable, _reason in table.LOSSES}
    never = set(csl.VARIABLE_KIND) - writable - {"citation-key", "event"}
    assert never == lost & set(csl.VARIABLE_KIND)
    assert lost - set(csl.VARIABLE_KIND) <= set(csl.KEY_ORDER)  # e.g. categories: schema, not a variable
    assert not lost & writable
    assert all(reason for _v, reason in table.LOSSES + table.PARTIAL_LOSSES)


@pytest.mark.parametrize(("ty", "tag", "variable"), [
    ("CONF", "C3", "container-title"), ("CONF", "T2", "event-title"), ("CONF", "C1", "event-place"),
    ("JOUR", "T2", "container-title"), ("BOOK", "T2", "collection-title"), ("CHAP", "T2", "container-title"),
    ("RPRT", "T2", "collection-title"), ("ELEC", "T2", "container-title"), ("CHAP", "T3", "collection-title"),
    ("BOOK", "A3", "editor"), ("BOOK", "A2", "collection-editor"), ("CHAP", "A2", "editor"),
    ("CONF", "A2", "editor"), ("JOUR", "A2", "editor"), ("JOUR", "SN", "ISSN"), ("BOOK", "SN", "ISBN"),
    ("THES", "SN", "ISBN"), ("RPRT", "SN", "number"), ("BOOK", "SP", "number-of-pages"),
    ("BOOK", "ET", "edition"), ("COMP", "ET", "version"),
])
def test_facts_rows(ty, tag, variable):
    assert table.write_tag(ty, variable) == tag
    assert table.read_variable(tag, ty) == variable


def test_j2_only_on_journal_types_and_et_only_with_editions():
    for ty in set(table.CSL_TO_TY.values()):
        assert (table.write_tag(ty, "container-title-short") == "J2") == (ty in ("JOUR", "MGZN", "NEWS"))
    assert table.write_tag("JOUR", "edition") is None
    assert table.write_tag("CONF", "edition") is None


def test_edbook_authors_are_editors():
    items, report = read("TY  - EDBOOK\nAU  - Doe, Jane\nTI  - Collected\nER  - \n")
    assert items[0]["type"] == "book" and items[0]["editor"] == [{"family": "Doe", "given": "Jane"}]
    assert "author" not in items[0]


# --- writer --------------------------------------------------------------------------------------

CONF_ITEM = {
    "id": "neumann1945first", "type": "paper-conference",
    "title": 'First Draft of a Report on the <span class="nocase">EDVAC</span>',
    "author": [{"family": "Neumann", "given": "John", "non-dropping-particle": "von"},
               {"family": "Merwe", "given": "Hendrik", "non-dropping-particle": "van der", "suffix": "Jr"},
               {"literal": "ACM"}],
    "editor": [{"family": "Smith", "given": "Ann"}],
    "issued": {"date-parts": [[1945, 6, 30]]},
    "container-title": "Proceedings of Things", "container-title-short": "Proc. Things",
    "event": "ISCA 45", "publisher-place": "Philadelphia", "publisher": "ACM",
    "page": "12–15", "ISBN": "978-1-4503-0000-0, 978-1-4503-0000-1",
    "DOI": "https://doi.org/10.1145/945445.945462", "URL": "https://example.org/a;b=c",
    "keyword": "computers, history", "note": "A note", "abstract": "An <i>abstract</i>.",
    "language": "en",
}


def test_write_conference_paper():
    text, report = write([CONF_ITEM])
    assert text == (
        "TY  - CONF\r\n"
        "TI  - First Draft of a Report on the EDVAC\r\n"
        "AU  - von Neumann, John\r\n"
        "AU  - van der Merwe, Hendrik, Jr\r\n"
        "AU  - ACM\r\n"
        "T2  - ISCA 45\r\n"
        "A2  - Smith, Ann\r\n"
        "AB  - An abstract.\r\n"
        "C1  - Philadelphia\r\n"
        "C3  - Proceedings of Things\r\n"
        "CY  - Philadelphia\r\n"
        "DA  - 1945/06/30/\r\n"
        "PY  - 1945\r\n"
        "DO  - 10.1145/945445.945462\r\n"
        "SP  - 12\r\n"
        "EP  - 15\r\n"
        "LA  - en\r\n"
        "PB  - ACM\r\n"
        "SN  - 978-1-4503-0000-0 978-1-4503-0000-1\r\n"
        "UR  - https://example.org/a;b=c\r\n"
        "N1  - A note\r\n"
        "KW  - computers\r\n"
        "KW  - history\r\n"
        "ID  - neumann1945first\r\n"
        "ER  - \r\n"
    )
    # J2 never on CONF: the abbreviation is a declared loss, with a warning.
    assert "J2" not in text
    assert [d.code for d in report.diagnostics] == ["ris-unexpressible"]
    assert "container-title-short" in report.diagnostics[0].message


def test_write_is_stable_lf_option_and_one_trailing_newline():
    items = [CONF_ITEM, {"id": "b", "type": "book", "title": "B", "editor": [{"family": "E"}],
                         "number-of-pages": "300", "edition": "2"}]
    first, _ = write(items, line_ending="\n")
    second, _ = write(items, line_ending="\n")
    assert first == second
    assert first.endswith("ER  - \n") and not first.endswith("\n\n")
    assert "\r" not in first
    assert "\nER  - \n\nTY  - BOOK\n" in first
    assert "A3  - E,\n" in first and "SP  - 300\n" in first and "ET  - 2\n" in first
    assert write([])[0] == ""


def test_newline_injection_cannot_start_a_record():
    evil = {"id": "x", "type": "article-journal",
            "title": "Nice\r\nER  - \r\nTY  - JOUR\nTI  - Fake\u2028x\x00\x1b[31m\tend",
            "note": "line1\n\nline2", "abstract": "a\rb"}
    text, _ = write([evil])
    lines = text.split("\r\n")
    assert lines[0] == "TY  - JOUR" and sum(1 for ln in lines if ln.startswith("TY")) == 1
    assert sum(1 for ln in lines if ln.startswith("ER")) == 1
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]  - [^\x00-\x1f]*", ln) for ln in lines if ln)
    items, report = read(text)
    assert len(items) == 1 and not report.errors
    assert items[0]["title"] == "Nice ER - TY - JOUR TI - Fake x[31m end"


def test_custom_ris_tags_written_back_and_unknown_type_warned():
    item = {"id": "k", "type": "article-journal", "title": "T",
            "custom": {"ris": {"M2": ["extra"], "TY": ["BAD"], "UR": ["https://b", "https://c"]},
                       "bibtex": {"x": "y"}}}
    text, report = write([item], line_ending="\n")
    assert "M2  - extra\nUR  - https://b\nUR  - https://c\nER  - \n" in text
    assert "TY  - BAD" not in text
    assert {d.code for d in report.diagnostics} == {"ris-bad-custom-tag", "ris-unexpressible"}
    text, report = write([{"id": "k", "type": "nonsense", "title": "T"}])
    assert text.startswith("TY  - GEN\r\n") and report.warnings[0].code == "ris-unknown-type"


def test_write_date_forms():
    def dates(date):
        text, report = write([{"id": "k", "type": "book", "issued": date}], line_ending="\n")
        lines = [ln for ln in text.splitlines() if ln[:2] in ("DA", "PY")]
        return lines, [d.code for d in report.diagnostics]
    assert dates({"date-parts": [[2003, 10]]}) == (["DA  - 2003/10//", "PY  - 2003"], [])
    assert dates({"date-parts": [[2003]]}) == (["DA  - 2003///", "PY  - 2003"], [])
    assert dates({"date-parts": [[2003], [2005]]})[1] == ["ris-unexpressible"]
    assert dates({"literal": "Spring term"}) == (["DA  - Spring term"], [])


# --- reader --------------------------------------------------------------------------------------

def test_read_bom_crlf_and_tag_variants():
    text = ("\ufeffTY  - JOUR\r\nAU  - Baldwin,S.A.\r\nA1  - Fugaccia, I.\r\nT1  - Blood-brain barrier\r\n"
            "cortical contusion\r\nJO  - J.Neurosurg.\r\nY1  - 1996/05/03/\r\nVL - 85\r\nSP  - 476-481\r\n"
            "KW  - rat; brain\r\nKW  - cortex\r\nUR  - https://x.org/?a=1;b=2\r\nUR  - https://y.org\r\n"
            "ER  -\r\n")
    items, report = read(text)
    assert codes(report) == [("warning", "ris-malformed-tag", 8)]  # `VL - 85`: one space, still VL
    assert items == [{
        "id": "baldwin1996bloodbrain", "type": "article-journal", "citation-key": "baldwin1996bloodbrain",
        "author": [{"family": "Baldwin", "given": "S.A."}, {"family": "Fugaccia", "given": "I."}],
        "issued": {"date-parts": [[1996, 5, 3]]}, "container-title": "J.Neurosurg.",
        "container-title-short": "J.Neurosurg.", "keyword": "rat, brain, cortex", "page": "476-481",
        "title": "Blood-brain barrier cortical contusion", "URL": "https://x.org/?a=1;b=2",
        "volume": "85", "custom": {csl.CUSTOM_MORE_URLS: ["https://y.org"]},
    }]


def test_read_structure_errors_all_in_one_pass():
    text = (
        "TY  - JOUR\nTI  - Good one\nER  - \n"          # 1-3 ok
        "\n"
        "TY  - BOOK\nTI  - Lost\n"                        # 5-6 no ER: nested TY at 7
        "TY  - BOOK\nTI  - Second good\nER  - \n"        # 7-9 ok
        "stray words\nmore stray\n"                      # 10-11 one stray block
        "\n"
        "TY  - CHAP\nTI  - Unfinished\n"                 # 13-14 missing ER
    )
    items, report = read(text)
    assert [i["title"] for i in items] == ["Good one", "Second good"]
    assert codes(report) == [("error", "ris-nested-ty", 7), ("error", "ris-stray-text", 10),
                             ("error", "ris-missing-er", 13)]
    assert report.render().splitlines()[0] == (
        "t.ris:7: error[ris-nested-ty]: TY inside the record opened at line 5 (missing ER): "
        "that record is skipped")


def test_read_duplicates_first_wins_and_unknown_tags_kept():
    text = ("TY  - JOUR\nTI  - First\nTI  - Second\nT2  - Journal\nJF  - Journal\nPY  - 2001\n"
            "DA  - 2001/02/03/\nXY  - mystery\nL1  - file.pdf\nID  - 17\nSN  - 1234-5678\nSN  - 2345-6789\n"
            "M3  - https://doi.org/10.1000/xyz\nER  - \n")
    items, report = read(text)
    item = items[0]
    assert item["title"] == "First" and item["container-title"] == "Journal"
    assert item["issued"] == {"date-parts": [[2001, 2, 3]]}
    assert item["ISSN"] == "1234-5678 2345-6789" and item["DOI"] == "10.1000/xyz"
    assert item["custom"]["ris"] == {"TI": ["Second"], "XY": ["mystery"], "L1": ["file.pdf"], "ID": ["17"]}
    assert codes(report) == [("warning", "ris-duplicate-tag", 3), ("warning", "ris-unknown-tag", 8)]
    assert all(d.key == item["id"] for d in report.diagnostics)


def test_read_unknown_type_like_zotero_and_conference_tags():
    items, report = read("TY  - WEIRD\nTI  - X\nER  - \n")
    assert items[0]["type"] == "article-journal" and report.warnings[0].code == "ris-unknown-type"
    items, report = read("TY  - CONF\nTI  - P\nT2  - ConfName\nC3  - Proc\nC1  - Rome\nCY  - Berlin\n"
                         "A2  - Ed, It\nSP  - 5\nEP  - 9\nSN  - 978-0\nER  - \n")
    assert items[0] == {"id": "edndp", "type": "paper-conference", "citation-key": "edndp",
                        "editor": [{"family": "Ed", "given": "It"}], "container-title": "Proc",
                        "event-title": "ConfName", "event-place": "Rome", "ISBN": "978-0", "page": "5-9",
                        "publisher-place": "Berlin", "title": "P"}
    assert not report.diagnostics


def test_read_names_and_keys():
    items, _ = read("TY  - BOOK\nAU  - de la Fontaine, Jean, Jr.\nAU  - World Bank\nA3  - Ed, A\n"
                    "ID  - fontaine1668fables\nSP  - 300\nER  - \n"
                    "TY  - BOOK\nTI  - The Same\nER  - \nTY  - BOOK\nTI  - The Same\nER  - \n")
    assert items[0]["author"] == [{"family": "Fontaine", "given": "Jean", "non-dropping-particle": "de la",
                                   "suffix": "Jr."}, {"literal": "World Bank"}]
    assert items[0]["editor"] == [{"family": "Ed", "given": "A"}]
    assert items[0]["number-of-pages"] == "300"
    assert [i["id"] for i in items] == ["fontaine1668fables", "anonndsame", "anonndsamea"]


def test_near_miss_tag_lines_are_read_as_their_tags_with_a_warning():
    # issue 13: these were glued into one author named "Wang, Liang A1 -Li, Mengyuan au  - ..."
    items, report = read("TY  - JOUR\nAU  - Wang, Liang\nAU - Qian, Xin\nA1 -Li, Mengyuan\n"
                         "au  - Zhang, Yinqian\nTI\t- tab separated\nPY   -  2021\nER  - \n")
    assert items[0]["author"] == [{"family": "Wang", "given": "Liang"}, {"family": "Qian", "given": "Xin"},
                                  {"family": "Li", "given": "Mengyuan"}, {"family": "Zhang", "given": "Yinqian"}]
    assert items[0]["title"] == "tab separated" and items[0]["issued"] == {"date-parts": [[2021]]}
    assert codes(report) == [("warning", "ris-malformed-tag", line) for line in (3, 4, 5, 6, 7)]
    assert all(d.key == items[0]["id"] for d in report.diagnostics)
    assert "read as A1" in report.diagnostics[1].message and "`XX  - value`" in report.diagnostics[1].message


def test_near_miss_tag_lines_behave_as_proper_ones():
    proper = ("TY  - BOOK\nTI  - T\nAU  - A, B\nER  - \n"
              "TY  - JOUR\nTI  - U\nID  - k1\nTI  - second\nER  - \n")
    sloppy = ("TY - BOOK\nti  - T\nAU\t-A, B\nER -\n"
              "ty  - JOUR\nTI  - U\nid  - k1\nTI -  second\ner  - \n")
    items, report = read(sloppy)
    assert items == read(proper)[0] and len(items) == 2
    assert items[1]["custom"] == {"ris": {"TI": ["second"]}}  # single-valued: the first wins, as usual
    assert {d.code for d in report.diagnostics} == {"ris-malformed-tag", "ris-duplicate-tag"}
    assert [d.line for d in report.diagnostics if d.code == "ris-malformed-tag"] == [1, 2, 3, 4, 5, 7, 8, 9]


_SLOPPY = ("{t} - {v}", "{t}\t- {v}", "{t}   -{v}", "{t} -\t{v}", "{l}  - {v}", "{l}  -  {v}")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["AU", "A1", "TI", "T2", "PY", "DA", "UR", "KW", "N1", "SP", "ID",
                                           "M2", "SN", "VL"]),
                          st.text(alphabet="abc, 123/-", min_size=1, max_size=8).map(str.strip).filter(bool),
                          st.integers(0, len(_SLOPPY) - 1)), max_size=12))
def test_near_miss_tag_lines_read_as_the_proper_ones(lines):
    proper = "TY  - JOUR\n" + "".join(f"{t}  - {v}\n" for t, v, _ in lines) + "ER  - \n"
    sloppy = "TY - JOUR\n" + "".join(_SLOPPY[i].format(t=t, l=t.lower(), v=v) + "\n" for t, v, i in lines) + "er  -\n"
    (items, proper_report), (sloppy_items, report) = read(proper), read(sloppy)
    assert sloppy_items == items
    malformed = [d for d in report.diagnostics if d.code == "ris-malformed-tag"]
    assert [d.line for d in malformed] == list(range(1, len(lines) + 3))
    assert [d for d in report.diagnostics if d not in malformed] == proper_report.diagnostics


def test_near_miss_tag_lines_keep_the_structure_errors():
    _, report = read("TY  - JOUR\nTI  - A\nty  - BOOK\nau  - B\nER  - \nTY - JOUR\nTI - open\n")
    # the skipped record's warnings come with its error; the read record's with its key, at the end
    assert codes(report) == [("error", "ris-nested-ty", 3), ("error", "ris-missing-er", 6),
                             ("warning", "ris-malformed-tag", 6), ("warning", "ris-malformed-tag", 7),
                             ("warning", "ris-malformed-tag", 3), ("warning", "ris-malformed-tag", 4)]


def test_wrapped_prose_that_resembles_a_tag_stays_in_the_value():
    # Lower case needs the spec's two spaces; a hyphen right after two letters is a compound word;
    # tabs or odd spacing count only for tags the tables know.
    items, report = read("TY  - JOUR\nAB  - The answer\nis - surprisingly - no, and\nab - cd is\n"
                         "CT-guided biopsy\nZZ\t- stays\nxy  - too\nER  - \n")
    assert items[0]["abstract"] == ("The answer is - surprisingly - no, and ab - cd is CT-guided biopsy "
                                    "ZZ\t- stays xy  - too")
    assert {d.code for d in report.diagnostics} == {"ris-malformed-tag"}  # looks like a tag: joined, said
    assert all("joined to the AB value" in d.message for d in report.diagnostics)
    assert [d.line for d in report.diagnostics] == [3, 4, 5, 6, 7]


SEVERAL_URLS = ("TY  - JOUR\nTI  - T\nUR  - https://a.org/1\nDO  - 10.1/x\nUR  - https://b.org/2;x=1\n"
                "UR  - https://c.org/3\nER  - \n")


def test_several_ur_lines_all_kept_and_written_back_in_order():
    items, report = read(SEVERAL_URLS)
    assert not report.diagnostics
    assert items[0]["URL"] == "https://a.org/1"
    assert items[0]["custom"] == {csl.CUSTOM_MORE_URLS: ["https://b.org/2;x=1", "https://c.org/3"]}
    text, report = write(items, line_ending="\n")
    assert not report.diagnostics
    assert [ln for ln in text.splitlines() if ln.startswith("UR")] == [
        "UR  - https://a.org/1", "UR  - https://b.org/2;x=1", "UR  - https://c.org/3"]
    assert read(text)[0] == items


def test_several_ur_lines_survive_bibtex_both_ways():
    items, _ = read(SEVERAL_URLS)
    for dialect in ("bibtex", "biblatex"):
        report = Report()
        text = bibtex.write(items, report, dialect=dialect)
        assert not report.diagnostics, report.render()
        assert re.findall(r"  (url\d?) += \{(.*)\},", text) == [
            ("url", "https://a.org/1"), ("url2", "https://b.org/2;x=1"), ("url3", "https://c.org/3")]
        back = bibtex.read(text, report)
        assert not report.diagnostics and back[0]["URL"] == items[0]["URL"]
        assert back[0]["custom"] == items[0]["custom"]
        urls = [ln for ln in write(back, line_ending="\n")[0].splitlines() if ln.startswith("UR")]
        assert urls == ["UR  - https://a.org/1", "UR  - https://b.org/2;x=1", "UR  - https://c.org/3"]


def test_numbered_bibtex_urls_read_in_order_the_first_is_the_url():
    report = Report()
    items = bibtex.read("@misc{k, title = {T}, url10 = {https://j.org}, url3 = {https://c.org},\n"
                        "url1 = {https://one.org}}\n", report)
    assert items[0]["URL"] == "https://c.org" and items[0]["custom"]["more-urls"] == ["https://j.org"]
    assert items[0]["custom"]["bibtex"] == {"url1": "https://one.org"}  # not a numbering bibport writes


def test_read_bad_dates_and_continuations():
    items, report = read("TY  - JOUR\nTY2 x\nTI  - A\n  continued here\nDA  - soon\nPY  - 2003\nER  - \n")
    assert items[0]["title"] == "A continued here"
    assert items[0]["issued"] == {"date-parts": [[2003]]}
    assert items[0]["custom"]["ris"]["DA"] == ["soon"]
    assert [d.code for d in report.diagnostics] == ["ris-continuation", "ris-bad-date"]


def test_stray_er_and_blank_input():
    assert read("") == ([], Report())
    items, report = read("\n\nER  - \n")
    assert items == [] and codes(report) == [("warning", "ris-stray-er", 3)]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_reader_never_raises(text):
    items, report = read(text)
    assert isinstance(items, list)
    report.render()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["TY  - JOUR", "TY  - CONF", "ER  - ", "ER  -", "TI  - x", "AU  - a, b",
                                 "", "junk", "PY  - 2003", "SP  - 1-2", "EP  - 3", "DA  - //", "\ufeff",
                                 "KW  - ;", "SN  - ", "ID  - k", "ID  - k", "UR  - u", "TY - JOUR",
                                 "ty  - BOOK", "ER -", "er\t-", "au  - x, y", "UR -v", "is - x"]),
                max_size=30))
def test_reader_never_raises_on_tag_soup(lines):
    for eol in ("\n", "\r\n"):
        items, report = read(eol.join(lines))
        keys = [i["id"] for i in items]
        assert len({k.lower() for k in keys}) == len(keys)


# --- round trips ---------------------------------------------------------------------------------

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüßø", min_size=1, max_size=7)
_cap = st.builds(lambda a, b: a + b, st.sampled_from("ABCDÉŁZ"), _word)
_text = st.lists(st.one_of(_word, _cap), min_size=1, max_size=4).map(" ".join)
_name = st.one_of(
    st.builds(lambda f, g, p, s: {k: v for k, v in {"family": f, "given": g, "non-dropping-particle": p,
                                                    "suffix": s}.items() if v},
              st.lists(_cap, min_size=1, max_size=2).map(" ".join), st.one_of(st.just(""), _text),
              st.sampled_from(["", "von", "van der", "de la"]), st.sampled_from(["", "Jr.", "III"])),
    st.builds(lambda w: {"literal": w}, _text),
)
_date = st.builds(lambda y, m, d: {"date-parts": [[y, m, d][: 1 + (m > 0) + (m > 0 and d > 0)]]},
                  st.integers(1000, 2100), st.integers(0, 12), st.integers(0, 28))
_ROUND_TYPES = sorted(t for t in csl.TYPES if table.TY_TO_CSL[table.CSL_TO_TY[t]] == t)


def _value(variable):
    kind = csl.VARIABLE_KIND[variable]
    if kind is csl.Kind.NAME:
        return st.lists(_name, min_size=1, max_size=3)
    if kind is csl.Kind.DATE:
        return _date
    if variable == "page":
        return st.sampled_from(["12-15", "7", "e1234", "iv-x", "12, 15-17"])
    if kind is csl.Kind.NUMBER:
        return st.integers(1, 5000).map(str)
    if variable == "keyword":
        return st.lists(_text, min_size=1, max_size=3).map(", ".join)
    if variable in ("ISBN", "ISSN"):
        return st.sampled_from(["978-3-16-148410-0", "0317-8471 1234-5679"])
    return {"DOI": st.just("10.1145/945445.945462"), "URL": st.just("https://e.org/a;b?c=d"),
            "language": st.sampled_from(["en", "fr-CA"])}.get(variable, _text)


@st.composite
def ris_items(draw):
    kind = draw(st.sampled_from(_ROUND_TYPES))
    ty = table.CSL_TO_TY[kind]
    item = {"type": kind}
    for variable in csl.VARIABLE_KIND:
        tag = table.write_tag(ty, variable)
        if tag is None or table.read_variable(tag, ty) != variable or variable == "citation-key":
            continue
        if draw(st.booleans()):
            item[variable] = draw(_value(variable))
    if item.get("container-title-short") and not item.get("container-title"):
        item["container-title"] = item["container-title-short"] + " Full"
    if ty == "CONF" and item.get("event-place") and item.get("event-place") == item.get("publisher-place"):
        del item["event-place"]
    if ty in ("BOOK", "THES"):
        item.pop("page", None)
    return item


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ris_items(), min_size=1, max_size=4), st.sampled_from(["\r\n", "\n"]))
def test_round_trip_on_expressible_subset(items, eol):
    items = [csl.normalize({**item, "id": f"key{i}", "citation-key": f"key{i}"})
             for i, item in enumerate(items)]
    text, report = write(items, line_ending=eol)
    assert not report.diagnostics, report.render()
    back, report = read(text)
    assert not report.diagnostics, report.render()
    assert back == items
    assert write(back, line_ending=eol)[0] == text


# --- golden --------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("ris-*")))
def test_golden(case):
    folder = CASES / case
    items, _report = read((folder / "in.ris").read_text(encoding="utf-8"))
    # out.csl.json is the CSL-JSON writer's output for the items read (tests/test_golden.py's rule)
    assert csljson.write(items, Report()) == (folder / "out.csl.json").read_text(encoding="utf-8")
    assert json.loads((folder / "out.csl.json").read_text(encoding="utf-8")) == items


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="a\r\n", max_size=40), st.integers(min_value=0, max_value=6))
def test_lines_in_pieces_are_the_lines_of_one_split(text, piece_chars):
    real = ris._PIECE_CHARS
    try:
        ris._PIECE_CHARS = piece_chars  # tiny pieces: every cut point is tried
        got = list(ris._lines(text))
    finally:
        ris._PIECE_CHARS = real
    assert got == ris._LINE_BREAK.split(text)
