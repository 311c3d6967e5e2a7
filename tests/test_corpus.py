"""The real lab bibliographies: every entry is either written or named in a diagnostic."""

from __future__ import annotations

import json
import re

import pytest

from bibport import api, formats
from bibport.diagnostics import Report
from conftest import assert_schema_valid, shared_files

CORPORA = shared_files("corpus", "*.bib", marks=pytest.mark.slow)
ENTRY_START = re.compile(r"^\s*@\s*(\w+)\s*[{(]\s*([^,\s]*)", re.MULTILINE)
NOT_CITABLE = {"string", "preamble", "comment", "xdata", "set"}


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.name)
def test_corpus_accounts_for_every_entry(corpus, csl_validator):
    text = corpus.read_text(encoding="utf-8")
    declared = [(m.group(1).lower(), m.group(2)) for m in ENTRY_START.finditer(text)]
    citable_keys = [key for kind, key in declared if kind not in NOT_CITABLE]
    report = Report()
    items = api.read_sources([str(corpus)], report)   # no exception may escape
    written = {item["id"] for item in items}
    named = {d.key for d in report.errors if d.key}
    unaccounted = [k for k in set(citable_keys) if k not in written and k not in named]
    assert not unaccounted, f"{len(unaccounted)} entries neither written nor named: {unaccounted[:10]}"
    # Every error-free entry is written: the errors explain exactly the missing ones.
    assert len(written) + len({k for k in named if k not in written}) >= len(set(citable_keys))
    assert_schema_valid(csl_validator, json.loads(formats.get("csljson").write(items, Report())))
    print(f"{corpus.name}: {len(set(citable_keys))} keys, {len(written)} written, "
          f"{len(report.errors)} errors, {len(report.warnings)} warnings")
