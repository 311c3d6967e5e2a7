"""Differential test: bibport's citeproc-py rendering against citeproc-js (the reference).

Both engines get the same items, style file and locale files. Every entry that differs after
whitespace normalisation must be listed in tests/differential/known-differences.json with its
cause; the test fails on a new difference and on a listed one that has gone (a ratchet both ways).
Needs citeproc-js (`make` installs it when Node.js is on PATH: npm ci --prefix tests/differential);
skips without it locally, fails under CI=true. Slow (minutes): not in `make test-fast`.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bibport.diagnostics import Report
from bibport.formats import bibliography as bib

HERE = Path(__file__).parent
DIFF = HERE / "differential"
REFS = HERE.parent / "refs"
STYLES = ("apa", "ieee", "acm-sig-proceedings", "chicago-author-date", "nature", "vancouver",
          "modern-language-association", "harvard-cite-them-right", "springer-basic-author-date",
          "elsevier-harvard")
TARGET = 0.95

pytestmark = [pytest.mark.tools, pytest.mark.slow]


def _need_node():
    if shutil.which("node") and (DIFF / "node_modules" / "citeproc").is_dir():
        return
    reason = "citeproc-js missing: `make` installs it when Node.js is on PATH (npm ci --prefix tests/differential)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _sets() -> list[tuple[str, list[dict]]]:
    """The fixture items, and refs/*.bib read through bibport's own reader when both exist."""
    fixtures = json.loads((HERE / "render_fixtures" / "items.json").read_text(encoding="utf-8"))
    sets = [("fixtures", fixtures)]
    bibs = sorted(REFS.glob("*.bib")) if REFS.is_dir() else []
    try:
        api = importlib.import_module("bibport.api")
    except ImportError:
        return sets
    if bibs and callable(getattr(api, "read", None)):
        report = Report()
        try:
            refs = [item for path in bibs for item in api.read(str(path), report=report)]
        except (ImportError, NotImplementedError):  # the BibTeX reader is not there yet
            return sets
        assert not report.errors, report.render()
        sets.append(("refs", refs))
    return sets


def _for_both(items: list[dict]) -> list[dict]:
    # the hub writes `event` beside `event-title` for citeproc (FACTS); give both engines the same data
    out = copy.deepcopy(items)
    for item in out:
        if item.get("event-title") and not item.get("event"):
            item["event"] = item["event-title"]
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _reference(style_path: Path, items_path: Path) -> dict[str, str]:
    done = subprocess.run(["node", str(DIFF / "render.js"), str(style_path), str(bib.LOCALES),
                           str(items_path), "text"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    return {str(key): _norm(entry) for key, entry in zip(data["ids"], data["entries"], strict=True)}


def test_agreement_with_citeproc_js(tmp_path):
    _need_node()
    known = {(d.get("set", "fixtures"), d["style"], d["id"]): d for d in
             json.loads((DIFF / "known-differences.json").read_text(encoding="utf-8"))}
    found, total, same = {}, 0, 0
    for name, raw in _sets():
        items = _for_both(raw)
        items_path = tmp_path / f"{name}.json"
        items_path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        for style in STYLES:
            reference = _reference(bib.resolve_style(style), items_path)
            report = Report()
            ours = {key: _norm(text) for key, text in bib.entries(items, report, style=style)}
            assert not report.errors, report.render()
            for key, expected in reference.items():
                total += 1
                if ours.get(key) == expected:
                    same += 1
                else:
                    found[(name, style, key)] = (expected, ours.get(key))
    new = {k: v for k, v in found.items() if k not in known}
    gone = [k for k in known if k not in found]
    assert not new, "new differences:\n" + "\n".join(
        f"{n} {s} {k}\n  js: {js}\n  py: {py}" for (n, s, k), (js, py) in new.items())
    assert not gone, f"listed differences that disappeared (remove them): {gone}"
    assert same / total >= TARGET, f"{same}/{total} identical"
    assert all(d.get("cause") for d in known.values())
