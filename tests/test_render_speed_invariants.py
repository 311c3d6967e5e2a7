"""Rendering's speed-ups change nothing: memoised style lookups, forked sort and render, link splitting.

No timings here: each test compares a fast path with the plain one.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from bibport.diagnostics import Report
from bibport.formats import bibliography as bib
from bibport.formats import citeproc_fixes as fixes

FIXTURES = Path(__file__).parent / "render_fixtures"
ITEMS = json.loads((FIXTURES / "items.json").read_text(encoding="utf-8"))
MANY = [dict(item, id=f"{item['id']}-{n}") for n in range(3) for item in ITEMS]


def render(items=MANY, **options):
    report = Report()
    return bib.write(copy.deepcopy(items), report, **options), report


def _style(name):
    path = bib.resolve_style(name)
    resolved, mtime = str(path.resolve()), path.stat().st_mtime
    tag = bib._locale_tag(None, bib.load_style(path))
    return resolved, mtime, tag


@pytest.mark.parametrize("style", ["apa", "chicago-author-date", "modern-language-association"])
def test_sort_keys_computed_in_workers_sort_as_citeproc_does(style):
    resolved, mtime, tag = _style(style)
    prepared = bib.prepare(copy.deepcopy(MANY), Report())
    serial = bib._sort_order(resolved, mtime, tag, prepared, "style", [], Report(), 1)
    keys = [it["id"].lower() for it in prepared]
    forked = bib._sort_parallel(resolved, mtime, tag, prepared, keys, 2)  # no fallback hides a failure here
    assert [k.lower() for k in serial] == forked
    assert sorted(forked) == sorted(keys)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["apa", "ieee", "chicago-author-date"])
@pytest.mark.parametrize("output", ["text", "html"])
def test_forked_render_matches_serial(monkeypatch, style, output):
    cite = [MANY[3]["id"], MANY[0]["id"]]
    serial, report = render(style=style, output=output, cite=cite, jobs=1)
    assert serial and not report.errors
    monkeypatch.setattr(bib, "PARALLEL_THRESHOLD", 5)
    forked, _ = render(style=style, output=output, cite=cite, jobs=2)
    assert forked == serial
    grouped_serial, _ = render(style=style, group_by="keyword", jobs=1)
    grouped_forked, _ = render(style=style, group_by="keyword", jobs=2)
    assert grouped_forked == grouped_serial


def test_warm_caches_render_as_cold_ones():
    first, _ = render(ITEMS, style="apa")
    render(ITEMS, style="ieee")
    render(ITEMS, style="apa", locale="fr-FR")
    again, _ = render(ITEMS, style="apa")
    assert again == first


def test_speed_fixes_are_scoped_like_the_others():
    from citeproc import model
    before = model.Key.__dict__["sort_keys"]
    with fixes.precomputed_sort_keys([[1, 2]]):
        assert model.Key.__dict__["sort_keys"] is not before
    assert model.Key.__dict__["sort_keys"] is before
    saved = {(fix.owner, fix.attribute): fix.owner.__dict__[fix.attribute] for fix in fixes.FIXES}
    with fixes.patched():
        pass
    assert saved == {(fix.owner, fix.attribute): fix.owner.__dict__[fix.attribute] for fix in fixes.FIXES}


def _split_links_by_regex(text, pairs):
    """The former implementation: one alternation of the shown texts, longest first."""
    if not pairs:
        return [(text, None)]
    pattern = re.compile("|".join(re.escape(shown) for shown, _ in sorted(pairs, key=lambda p: -len(p[0]))))
    targets = {shown: target for shown, target in pairs}
    out, pos = [], 0
    for match in pattern.finditer(text):
        out.append((text[pos:match.start()], None))
        out.append((match.group(0), targets[match.group(0)]))
        pos = match.end()
    out.append((text[pos:], None))
    return [(piece, target) for piece, target in out if piece]


@pytest.mark.parametrize("text", [
    "See https://doi.org/10.1/x and 10.1/x, https://doi.org/10.1/x.",
    "10.1/x10.1/x https://ex.org/a https://ex.org/ab",
    "nothing linked here",
    "https://doi.org/10.1/xhttps://ex.org/a",
    "",
])
def test_link_splitting_matches_the_regex_it_replaced(text):
    pairs = [("https://doi.org/10.1/x", "https://doi.org/10.1/x"), ("http://dx.doi.org/10.1/x", "t2"),
             ("10.1/x", "https://doi.org/10.1/x"), ("https://ex.org/a", "https://ex.org/a"),
             ("https://ex.org/ab", "https://ex.org/ab")]
    for chosen in (pairs, pairs[:1], pairs[2:], pairs[::-1], []):
        assert bib._split_links(text, chosen) == _split_links_by_regex(text, chosen)
