"""Golden cases: tests/cases/<behaviour>/in.* read, then written in every format.

Each folder holds one input (`in.bib`, `in.ris` or `in.json`) and the expected outputs that exist:
`out.csl.json` (the items read), `out.diagnostics` (every diagnostic, one per line), `out.bib`,
`out.biblatex.bib`, `out.ris`. A folder with a file `canonical` asserts in.bib == out.bib.
Expected files were produced by the code and then read line by line against FACTS.md before being
committed; `BIBPORT_REGEN=1 pytest tests/test_golden.py` rewrites them for that review.
"""

from __future__ import annotations

import json
import os

import pytest

from bibport import api, formats
from bibport.diagnostics import Report
from conftest import CASES, assert_schema_valid

REGEN = os.environ.get("BIBPORT_REGEN") == "1"
INPUTS = ("in.bib", "in.ris", "in.json")
OUTPUTS = {  # file -> (format, options)
    "out.bib": ("bibtex", {}),
    "out.biblatex.bib": ("biblatex", {}),
    "out.ris": ("ris", {"line_ending": "\n"}),
}


def _cases():
    if not CASES.is_dir():
        return []
    return sorted(p for p in CASES.iterdir() if p.is_dir() and any((p / n).exists() for n in INPUTS))


def _read(case):
    name = next(n for n in INPUTS if (case / n).exists())
    report = Report()
    items = api.read_sources([str(case / name)], report)
    diagnostics = report.render().replace(str(case) + os.sep, "")
    return name, items, diagnostics


def _check(path, actual):
    if REGEN:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}"
    assert actual == path.read_text(encoding="utf-8"), f"{path.parent.name}/{path.name} differs"


CASE_DIRS = _cases()


@pytest.mark.parametrize("case", CASE_DIRS, ids=[c.name for c in CASE_DIRS])
def test_read(case):
    _, items, diagnostics = _read(case)
    text = formats.get("csljson").write(items, Report())
    _check(case / "out.csl.json", text)
    if diagnostics or (case / "out.diagnostics").exists() or REGEN:
        _check(case / "out.diagnostics", diagnostics)


# apart from test_read: the schema is shared test data, and a clone without it still checks the goldens
@pytest.mark.parametrize("case", CASE_DIRS, ids=[c.name for c in CASE_DIRS])
def test_read_is_schema_valid(case, csl_validator):
    _, items, _ = _read(case)
    assert_schema_valid(csl_validator, json.loads(formats.get("csljson").write(items, Report())))


@pytest.mark.parametrize("case", CASE_DIRS, ids=[c.name for c in CASE_DIRS])
@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_write(case, output):
    fmt, options = OUTPUTS[output]
    if not (case / output).exists() and not REGEN:
        pytest.skip(f"no {output} for this case yet")
    if fmt == "ris" and not os.path.exists(os.path.join(os.path.dirname(formats.__file__), "ris.py")):
        pytest.skip("RIS writer not built")
    _, items, _ = _read(case)
    _check(case / output, formats.get(fmt).write(items, Report(), **options))


@pytest.mark.parametrize("case", [c for c in CASE_DIRS if (c / "canonical").exists()],
                         ids=lambda c: c.name)
def test_canonical_is_fixed_point(case):
    source = (case / "in.bib").read_text(encoding="utf-8")
    items = api.read(source, "bibtex")
    assert formats.get("bibtex").write(items, Report()) == source


def test_items_share_no_name_dicts():
    # each distinct name is parsed once and memoised; the items must still own their name dicts
    text = "@article{a, author = {Lee, Ann}, title = {A}}\n@article{b, author = {Lee, Ann}, title = {B}}\n"
    first, second = api.read(text, "bibtex")
    first["author"][0]["given"] = "changed"
    assert second["author"][0] == {"family": "Lee", "given": "Ann"}
    assert api.read(text, "bibtex")[1]["author"][0] == {"family": "Lee", "given": "Ann"}
