"""bibport.citations() and bibport.bibliography(): cite-item clusters, numbering, markup, CLI --cite."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import bibport
from bibport.cli import cli
from conftest import REFS

ITEMS = [
    {"id": "doe", "type": "book", "title": "Alpha", "author": [{"family": "Doe", "given": "Jane"}],
     "issued": {"date-parts": [[2000]]}},
    {"id": "roe", "type": "book", "title": "Beta & <script>", "author": [{"family": "Roe", "given": "Rick"}],
     "issued": {"date-parts": [[2001]]}},
]


PLAIN = """<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">
  <info><id/><title/><updated>2026-01-01T00:00:00+00:00</updated></info>
  <citation><layout delimiter="; " prefix="(" suffix=")"><group delimiter=" ">
    <names variable="author"><name form="short"/></names>
    <group delimiter=" "><label variable="locator" form="short"/><text variable="locator"/></group>
  </group></layout></citation>
</style>
"""


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "plain.csl"
    path.write_text(PLAIN, encoding="utf-8")
    return str(path)


def test_one_string_per_cluster_with_locators_labels_and_affixes(plain):
    out = bibport.citations(ITEMS, [[{"id": "roe", "locator": "12"}, {"id": "doe", "prefix": "see "}],
                                    [{"id": "doe", "locator": "3", "label": "chapter", "suffix": "!"}]], style=plain)
    assert out == ["(Roe p. 12; see Doe)", "(Doe chap. 3!)"]
    assert bibport.citations(ITEMS, [[{"id": "roe", "locator": "12"}]], style="chicago-author-date") == ["(Roe 2001, 12)"]


def test_cites_keep_their_order_when_the_style_does_not_sort(plain):
    # citeproc-py put them in bibliography order
    assert bibport.citations(ITEMS, [[{"id": "roe"}, {"id": "doe"}]], style=plain) == ["(Roe; Doe)"]


def test_suppress_author_and_author_only():
    clusters = [[{"id": "doe", "suppress-author": True}], [{"id": "doe", "author-only": True}]]
    assert bibport.citations(ITEMS, clusters, style="apa") == ["(2000)", "Doe"]
    assert bibport.citations(ITEMS, clusters, style="chicago-author-date") == ["(2000)", "Doe"]


def test_numbers_follow_first_citation_in_citations_and_bibliography():
    clusters = [[{"id": "roe"}], [{"id": "doe"}]]
    assert bibport.citations(ITEMS, clusters, style="ieee") == ["[1]", "[2]"]
    entries = bibport.bibliography(ITEMS, style="ieee", clusters=clusters)
    assert entries[0].startswith("[1] R. Roe") and entries[1].startswith("[2] J. Doe")


def test_html_escapes_data():
    entries = bibport.bibliography(ITEMS, style="apa", format="html")
    assert entries[1] == '<div class="csl-entry">Roe, R. (2001). <i>Beta &amp; &lt;script&gt;</i>.</div>'
    assert bibport.citations(ITEMS, [[{"id": "roe"}]], style="apa", format="html") == ["(Roe, 2001)"]


def test_unknown_cite_key_raises_without_a_report_and_is_recorded_with_one():
    with pytest.raises(bibport.BibportError, match="nobody"):
        bibport.citations(ITEMS, [[{"id": "nobody"}]])
    report = bibport.Report()
    assert bibport.citations(ITEMS, [[{"id": "nobody"}]], report=report) == []
    assert [d.code for d in report.errors] == ["unknown-cite-key"]


def test_cli_cite_clusters_and_only_cited_works():
    runner = CliRunner()
    keys = "barham2003xen,agache2020firecracker;kivity2007kvm"
    result = runner.invoke(cli, ["render", str(REFS), "--style", "ieee", "--cite", keys])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == ["[1], [2]", "[3]", ""]
    assert len(lines) == 6 and lines[3].startswith("[1] P. Barham") and lines[5].startswith("[3] A. Kivity")
    everything = runner.invoke(cli, ["render", str(REFS), "--style", "ieee", "--cite", keys, "--all"])
    assert everything.exit_code == 0 and len(everything.output.splitlines()) > 6
    assert everything.output.splitlines()[3].startswith("[1] P. Barham")


SAME_YEAR = [
    {"id": "one", "type": "book", "title": "One", "author": [{"family": "Smith", "given": "Al"}],
     "issued": {"date-parts": [[2000]]}},
    {"id": "two", "type": "book", "title": "Two", "author": [{"family": "Smith", "given": "Al"}],
     "issued": {"date-parts": [[2000]]}},
]


def test_year_suffixes_and_year_collapse_agree_with_the_bibliography(tmp_path):
    clusters = [[{"id": "one"}, {"id": "two"}], [{"id": "two"}]]
    assert bibport.citations(SAME_YEAR, clusters, style="apa") == ["(Smith, 2000a, 2000b)", "(Smith, 2000b)"]
    assert bibport.bibliography(SAME_YEAR, style="apa") == ["Smith, A. (2000a). One.", "Smith, A. (2000b). Two."]
    path = tmp_path / "same.json"
    path.write_text(json.dumps(SAME_YEAR), encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(path), "--style", "apa", "--cite", "one,two;two"])
    assert result.exit_code == 0, result.output
    assert result.output == ("(Smith, 2000a, 2000b)\n(Smith, 2000b)\n\n"
                             "Smith, A. (2000a). One.\nSmith, A. (2000b). Two.\n")
