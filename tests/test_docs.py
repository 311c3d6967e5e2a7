"""docs/mappings.md is generated from the tables: it cannot drift, and it lists every row."""

from __future__ import annotations

import re

import pytest

from bibport import csl
from bibport.mappings import bibtex, ris
from bibport.mappings.docs import render_mappings
from conftest import ROOT

DOC = ROOT / "docs" / "mappings.md"


_CODE_LIST = re.compile(r"`[^`]*`(?:, `[^`]*`)*")


def _uncell(cell: str) -> str:
    if _CODE_LIST.fullmatch(cell):
        return cell.replace("`", "")
    return cell.replace("&lt;", "<").replace("\\|", "|").replace("\\\\", "\\")


def _rows(markdown: str) -> set[tuple[str, ...]]:
    """Every table row as a tuple of cells, code quotes and escapes undone."""
    rows = set()
    for line in markdown.splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = re.split(r"(?<!\\) \| ", line[2:-2])
        rows.add(tuple(_uncell(c) for c in cells))
    return rows


def _text(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    return value or ""


@pytest.fixture(scope="module")
def rows():
    return _rows(render_mappings())


def test_committed_docs_are_up_to_date():
    assert DOC.read_text(encoding="utf-8") == render_mappings(), (
        "docs/mappings.md is out of date: run `make docs`")


def test_render_is_pure_and_stable():
    assert render_mappings() == render_mappings()
    assert render_mappings().endswith("\n") and not render_mappings().endswith("\n\n")


def test_every_bibtex_row_appears(rows):
    for r in bibtex.TYPES_IN:
        assert (r.entry_type, r.csl_type, _text(r.genre), r.note) in rows, r
    for r in bibtex.TYPES_OUT:
        assert (r.csl_type, r.bibtex, r.biblatex, _text(r.subtype), r.note) in rows, r
    for r in bibtex.FIELDS_IN:
        assert (r.field, r.variable, r.kind, _text(r.types), r.note) in rows, r
    for r in bibtex.FIELDS_OUT:
        assert (r.variable, _text(r.bibtex), _text(r.biblatex), r.kind, _text(r.types), r.note) in rows, r
    for part, whole in bibtex.JOINED_FIELDS:
        assert (part, whole) in rows
    for r in bibtex.LANGUAGES:
        assert (r.babel, r.tag, _text(r.aliases)) in rows, r


def test_every_ris_row_appears(rows):
    for r in ris.TYPES:
        assert (r.ty, r.csl, r.direction, r.reason) in rows, r
    for r in ris.TAGS:
        assert (r.tag, r.variable, _text(r.tys), _text(r.exclude), r.direction, r.reason) in rows, r
    text = render_mappings()
    for tag in (*ris.REPEATABLE, *ris.QUIET_TAGS, *ris.TAG_ORDER):
        assert f"`{tag}`" in text


def _losses_section(text: str, heading: str) -> set[tuple[str, ...]]:
    start = text.index(heading)
    end = text.find("\n### ", start + 1)
    return {r for r in _rows(text[start:end if end > 0 else None]) if r[0] not in ("CSL variable", "what")}


def test_losses_tables_list_exactly_the_declared_rows():
    text = render_mappings()
    bib_part, ris_part = text.split("## RIS")
    assert _losses_section(bib_part, "### Declared losses") == set(bibtex.LOSSES)
    assert _losses_section(ris_part, "### Declared losses") == set(ris.LOSSES)
    assert _losses_section(ris_part, "### Declared partial losses") == set(ris.PARTIAL_LOSSES)


def test_variables_without_a_field_are_listed_with_their_csl_field():
    written = {r.variable for r in bibtex.FIELDS_OUT} | {v for v, _ in bibtex.LOSSES}
    section = _losses_section(render_mappings().split("## RIS")[0], "### Variables kept in `csl-` fields")
    assert {r[0] for r in section} == set(csl.VARIABLE_KIND) - written
    assert all(field == bibtex.CSL_FIELD_PREFIX + variable for variable, field in section)


def test_bibtex_partial_losses_are_listed():
    section = _losses_section(render_mappings().split("## RIS")[0], "### Declared partial losses")
    assert {r[0] for r in section} == {what for what, _ in bibtex.PARTIAL_LOSSES}


def test_readme_losses_table_is_current():
    from bibport.mappings.docs import LOSSES_END, LOSSES_START, with_losses

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert LOSSES_START in readme and LOSSES_END in readme
    assert with_losses(readme) == readme, "README losses table out of date: run `make docs`"
