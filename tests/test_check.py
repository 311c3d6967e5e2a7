"""`bibport check`: one snippet per rule that triggers exactly that finding; identifier tables."""

from __future__ import annotations

import pytest

from bibport.diagnostics import Report
from bibport.formats.bibtex_check import Seen, check, guess_language, unprotected_words
from bibport.mappings import lint
from bibport.values import identifiers

YEAR = 2024  # "now" for every test: plausible years end at 2026

# A complete, clean @inproceedings; rows below override fields (None removes one).
BASE = {
    "author":    "{Barham, Paul and Dragovic, Boris}",
    "title":     "{{Xen} and the Art of Virtualization}",
    "booktitle": "{Proceedings of the Nineteenth {ACM} Symposium on Operating Systems Principles}",
    "pages":     "{164--177}",
    "year":      "{2003}",
    "month":     "oct",
    "publisher": "{Association for Computing Machinery}",
    "address":   "{New York, NY, USA}",
    "isbn":      "{1-58113-757-5}",
    "doi":       "{10.1145/945445.945462}",
    "url":       "{https://dl.acm.org/doi/10.1145/945445.945462}",
    "langid":    "{english}",
}


def entry(key="barham2003xen", entry_type="inproceedings", **changes) -> str:
    fields = {**BASE, **changes}
    lines = [f"@{entry_type}{{{key},"]
    lines += [f"  {name} = {value}," for name, value in fields.items() if value is not None]
    return "\n".join(lines) + "\n}\n"


def run(text: str, **options) -> Report:
    report = Report()
    check(text, report, source="t.bib", current_year=YEAR, **options)
    return report


FRENCH = "{{Xen} et l'art de la virtualisation}"

# (rule code, snippet): each snippet yields that one finding and nothing else.
ONE_FINDING = [
    ("missing-required",    entry(booktitle=None)),
    ("missing-required",    entry(entry_type="article", volume="{37}")),  # no journal
    ("missing-recommended", entry(pages=None)),
    ("missing-recommended", entry(entry_type="book", booktitle=None, publisher=None)),
    ("unknown-type",        entry(entry_type="paper")),
    ("doi-syntax",          entry(doi="{10.11/945445}")),
    ("doi-syntax",          entry(doi="{10.1145/945445 945462}")),
    ("doi-url-prefix",      entry(doi="{https://doi.org/10.1145/945445.945462}")),
    ("doi-url-prefix",      entry(doi="{doi:10.1145/945445.945462}")),
    ("doi-placeholder",     entry(doi="{10.5555/1251054.1251055}")),
    ("isbn-checksum",       entry(isbn="{1-58113-757-4}")),
    ("isbn-checksum",       entry(isbn="{978-1-4842-6282-4}")),
    ("issn-checksum",       entry(issn="{0378-5954}")),
    ("url-syntax",          entry(url="{www.usenix.org/conference}")),
    ("url-syntax",          entry(url="{https://dl.acm.org/doi/10.1145/945445 .945462}")),
    ("page-range",          entry(pages="{177--164}")),
    ("page-range",          entry(pages="{pp. 164--177}")),
    ("year-implausible",    entry(key="barham1203xen", year="{1203}")),
    ("year-implausible",    entry(key="barham2003xen", year=None, date="{2003-13}")),
    ("month-invalid",       entry(month="{Octember}")),
    ("key-convention",      entry(key="xen2003barham")),
    ("key-convention",      entry(key="Barham2003Xen")),
    ("unprotected-acronym", entry(title="{{Xen} and the Art of VMware Virtualization}")),
    ("unprotected-acronym", entry(title="{{Xen} on a GPU}")),
    ("unprotected-acronym", entry(booktitle="{Proceedings of SOSP}")),
    ("non-ascii",           entry(address="{Zürich}")),
    ("missing-langid",      entry(title=FRENCH, langid=None)),
    ("missing-langid",      entry(title=FRENCH)),  # langid says english
    ("key-case-collision",  entry() + entry(key="Barham2003xen", doi=None)),
    ("duplicate-doi",       entry() + entry(key="dragovic2003xen", author="{Dragovic, Boris}")),
]


@pytest.mark.parametrize("code,text", ONE_FINDING, ids=[f"{c}-{i}" for i, (c, _) in enumerate(ONE_FINDING)])
def test_snippet_triggers_exactly_its_rule(code, text):
    report = run(text)
    assert [d.code for d in report.diagnostics] == [code], report.render()
    assert report.diagnostics[0].severity == lint.RULE_BY_CODE[code].severity


def test_every_rule_has_a_snippet():
    covered = {code for code, _ in ONE_FINDING} | {"duplicate-key"}
    assert covered == set(lint.RULE_BY_CODE)


def test_finding_line_key_and_rendering():
    report = run(entry(pages="{177--164}"))
    finding = report.diagnostics[0]
    assert (finding.line, finding.key) == (5, "barham2003xen")
    assert finding.render().startswith("t.bib:5: warning[page-range]: ")
    assert finding.render().endswith("(barham2003xen)")


@pytest.mark.parametrize("text", [
    entry(),
    entry(key="barham2003xena"),                                     # dedup suffix
    entry(title=FRENCH, langid="{french}"),
    entry(title="{{Xen} and the Art of Virtualization \\LaTeX{} $O(n)$}"),
    entry(address="{Z{\\\"u}rich}"),
    entry(year=None, date="{2003-10/2003-11}"),
    entry(pages="{xii--xv, 164--177, e1234}"),
    entry(isbn="{978-1-4842-6282-5, 1-58113-757-5}", issn="{0378-5955}"),
    entry(url="{https://example.org/a\\_b}", month="{10}"),
    "@string{acm = {Association for Computing Machinery}}\n" + entry(publisher="acm"),
], ids=["base", "suffix", "french", "math", "escaped", "date", "pages", "ids", "url", "macro"])
def test_clean_snippets_have_no_findings(text):
    report = run(text)
    assert report.diagnostics == [], report.render()


def test_non_ascii_only_when_ascii_expected():
    assert run(entry(address="{Zürich}"), ascii_expected=False).diagnostics == []


def test_parse_errors_are_not_reported_twice():
    report = run(entry() + entry())
    assert [d.code for d in report.diagnostics] == ["duplicate-key"]


def test_across_files_keys_and_dois():
    report, seen = Report(), Seen()
    check(entry(), report, source="a.bib", seen=seen, current_year=YEAR)
    check(entry(doi=None), report, source="b.bib", seen=seen, current_year=YEAR)
    check(entry(key="Barham2003xen", doi=None), report, source="c.bib", seen=seen, current_year=YEAR)
    check(entry(key="dragovic2003xen", author="{Dragovic, Boris}"), report, source="d.bib", seen=seen,
          current_year=YEAR)
    got = [(d.code, d.source) for d in report.diagnostics]
    assert ("duplicate-key", "b.bib") in got
    assert ("key-case-collision", "c.bib") in got
    assert ("duplicate-doi", "d.bib") in got
    assert "barham2003xen (a.bib:1)" in report.render()
    assert report.errors and report.errors[0].code == "duplicate-key"


def test_returns_entries_checked():
    assert check(entry() + entry(key="dragovic2003xen", author="{Dragovic, Boris}", doi=None),
                 Report(), current_year=YEAR) == 2


def test_crossref_parent_supplies_required_fields():
    parent = "@proceedings{sosp03,\n  title = {Proceedings of SOSP 2003},\n  year = {2003},\n}\n"
    child = entry(booktitle=None, crossref="{sosp03}")
    codes = {d.code for d in run(child + parent).diagnostics}
    assert "missing-required" not in codes


# ---------------------------------------------------------------- identifier tables

# Check digits verified by hand: ISBN-13 weights 1,3 (sum % 10 == 0), ISBN-10 weights 10..1 (sum % 11 == 0).
ISBNS = [
    ("978-1-4842-6282-5", True),   # 9+21+8+3+4+24+4+6+6+6+8+6+5 = 110
    ("978-2-10-074744-3", True),   # 110
    ("9781484262825", True),
    ("978 1 4842 6282 5", True),
    ("1-58113-757-5", True),       # 10+45+64+7+6+15+28+15+14+5 = 209 = 11*19
    ("0-8044-2957-X", True),       # X = 10: 209
    ("0-8044-2957-x", True),
    ("978-1-4842-6282-4", False),
    ("1-58113-757-4", False),
    ("1-58113-757", False),
    ("977-1-4842-6282-5", False),  # 977 is an ISSN prefix, not a book
    ("97814842628X5", False),
    ("", False),
]
# ISSN weights 8..2 over 7 digits, check = (11 - sum % 11) % 11, 10 written X.
ISSNS = [
    ("0378-5955", True),   # 0+21+42+40+20+27+10 = 160; 160 % 11 = 6; 11-6 = 5
    ("0163-5980", True),   # 121 % 11 = 0 -> 0
    ("1050-124X", True),   # 56 % 11 = 1 -> 10 = X
    ("1050-124x", True),
    ("03785955", True),
    ("0378-5954", False),
    ("0378-595", False),
    ("ISSN 0378-5955", False),
]
DOIS = [
    ("10.1145/945445.945462", True),
    ("10.1007/978-1-4842-6283-2", True),
    ("10.1000.10/123", True),
    ("10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI1>3.0.CO;2-8", True),
    ("10.11/945445", False),
    ("11.1145/945445", False),
    ("10.1145/", False),
    ("10.1145 / 945445", False),
    ("https://doi.org/10.1145/945445.945462", False),
]
DOI_LINKS = [
    ("https://doi.org/10.1145/945445.945462", "10.1145/945445.945462"),
    ("http://dx.doi.org/10.1145/945445.945462", "10.1145/945445.945462"),
    ("DOI: 10.1145/945445.945462", "10.1145/945445.945462"),
    ("10.1145/945445.945462", None),
]
URLS = [
    ("https://www.usenix.org/conference/nsdi20/presentation/agache", True),
    ("http://example.org", True),
    ("HTTPS://EXAMPLE.ORG/x?y=1#z", True),
    ("ftp://example.org/file", False),
    ("www.example.org", False),
    ("https://", False),
    ("https://exa mple.org", False),
    ("", False),
]
PAGES = [
    ("164--177", None), ("164-177", None), ("42", None), ("12+", None), ("e1234", None),
    ("e-1234", None), ("xii--xv", None), ("S12--S15", None), ("1--10, 20--25", None),
    ("177--164", "ends before"), ("xv--xii", "ends before"), ("12--xv", "same kind"),
    ("S12--T15", "prefixes"), ("pp. 12--15", "not a range"), ("p 12", "not a page"),
    ("12---15", "two hyphens"),
    ("12\u201315", "two hyphens"), ("", "empty"), ("12,,15", "empty"),
]
YEARS = [("2003", None), ("1400", None), ("2026", None), ("1399", "outside"), ("2027", "outside"),
         ("03", "four-digit"), ("2003a", "four-digit"), ("n.d.", "four-digit")]
DATES = [("2003", None), ("2003-10", None), ("2003-10-19", None), ("2003/2004", None), ("2003/..", None),
         ("2003-21", None), ("2003-13", "month"), ("2003-10-32", "day"), ("1203", "outside"),
         ("October 2003", "EDTF")]
MONTHS = [("oct", True), ("October", True), ("10", True), ("1", True), ("12", True), ("May", True),
          ("0", False), ("13", False), ("Octember", False), ("Oct.", False), ("", False)]


@pytest.mark.parametrize("value,valid", ISBNS)
def test_isbn(value, valid):
    assert identifiers.is_isbn(value) is valid


def test_split_isbns():
    assert identifiers.split_isbns("ISBN 978-1-4842-6282-5; 1-58113-757-5") == ["978-1-4842-6282-5",
                                                                                "1-58113-757-5"]
    assert identifiers.split_isbns("978-1-4842-6282-5 1-58113-757-5") == ["978-1-4842-6282-5",
                                                                          "1-58113-757-5"]
    assert identifiers.split_isbns("978 1 4842 6282 5") == ["978 1 4842 6282 5"]


@pytest.mark.parametrize("value,valid", ISSNS)
def test_issn(value, valid):
    assert identifiers.is_issn(value) is valid


@pytest.mark.parametrize("value,valid", DOIS)
def test_doi(value, valid):
    assert identifiers.is_doi(value) is valid


@pytest.mark.parametrize("value,bare", DOI_LINKS)
def test_doi_link_prefix(value, bare):
    assert identifiers.doi_link_prefix(value) == bare


@pytest.mark.parametrize("value,valid", URLS)
def test_url(value, valid):
    assert identifiers.is_url(value) is valid


@pytest.mark.parametrize("value,problem", PAGES)
def test_pages(value, problem):
    found = identifiers.page_problem(value)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("value,problem", YEARS)
def test_year(value, problem):
    found = identifiers.year_problem(value, current_year=YEAR)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("value,problem", DATES)
def test_date(value, problem):
    found = identifiers.date_problem(value, current_year=YEAR)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("value,valid", MONTHS)
def test_month(value, valid):
    assert identifiers.is_month(value) is valid


@pytest.mark.parametrize("value,words", [
    ("Xen and the Art of {Virtualization}", ["Xen"]),
    ("GPU-based {FaaS} on VMware and iOS", ["GPU", "VMware", "iOS"]),
    ("A Type-II Hypervisor", ["II"]),
    ("{GiantVM}: A Type-{II} Hypervisor", []),
    ("Proofs with \\LaTeX{} and $O(N)$", []),
    ("{\\'E}tudes of {Linux}", []),
])
def test_unprotected_words(value, words):
    assert unprotected_words(value) == words


@pytest.mark.parametrize("title,babel", [
    ("Docker : Pratique des architectures à base de conteneurs", "french"),
    ("Über die Virtualisierung von Rechnern", "ngerman"),
    ("Virtualización de servidores con Linux", "spanish"),
    ("Xen and the Art of Virtualization", None),
    ("Gödel, Escher, Bach", None),
    ("Die Hard Disks", None),
])
def test_guess_language(title, babel):
    cue = guess_language(title)
    assert (cue.babel if cue else None) == babel


def test_requirement_tables_are_consistent():
    known = set(lint.REQUIREMENT_BY_TYPE) | set(lint.TYPES_WITHOUT_REQUIREMENTS)
    assert len(known) == len(lint.REQUIREMENT_BY_TYPE) + len(lint.TYPES_WITHOUT_REQUIREMENTS)
    for row in lint.REQUIREMENTS:
        assert "title" in row.required and "year/date" in row.required
