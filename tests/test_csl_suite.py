"""The CSL processor test suite through bibport.citations() / bibport.bibliography(), with a ratchet.

One test per fixture in scope (tests/csl_suite.py says which and how they run). The fixtures known
to fail are listed with their cause in tests/csl-suite-known-failures.json; the list may only
shrink: a listed fixture that passes fails the test until it is removed, a fixture not listed
that fails is a regression. Figures and the cause histogram: tests/csl-suite.md.
"""

from __future__ import annotations

import pytest

import csl_suite as suite
from conftest import require_shared

FIXTURES = suite.fixtures(require_shared(*suite.SUITE_PARTS))  # absent: the module skips (in CI: fails)
KNOWN = suite.known_failures()


@pytest.fixture(scope="module")
def style_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("csl-suite-styles")


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_fixture(fixture, style_folder):
    out, diagnostics = suite.run(fixture, style_folder)
    passed = suite.normalise(out) == suite.normalise(fixture.result)
    cause = KNOWN.get(fixture.name)
    if cause is not None:
        if passed:
            pytest.fail(f"{fixture.name} passes now: remove it from the ratchet ({suite.RATCHET.name})")
        pytest.xfail(cause)
    assert passed, (f"{fixture.name} ({fixture.mode}) no longer matches citeproc-js\n"
                    f"expected: {suite.normalise(fixture.result)}\n"
                    f"bibport:  {suite.normalise(out)}\n" + "".join(d + "\n" for d in diagnostics))


def test_scope_and_ratchet_name_real_fixtures():
    # 845 fixtures, less 41 citation-update sequences (citation mode with CITATIONS)
    assert len(FIXTURES) == 804
    names = {f.name for f in FIXTURES}
    assert sorted(set(KNOWN) - names) == [], "the ratchet lists fixtures that are not in scope"
    assert all(isinstance(c, str) and c.strip() and c != "fails" for c in KNOWN.values())


def test_normalise_makes_only_block_whitespace_and_entity_spelling_irrelevant():
    assert suite.normalise('<div class="a">\n  <div>x &#38; y</div>\n</div>') == '<div class="a"><div>x &amp; y</div></div>'
    assert suite.normalise("&#60;i&#62; &quot;q&quot; &#x2019;") == "&lt;i&gt; \"q\" \u2019"
    assert suite.normalise("a  b <i>c</i>") == "a  b <i>c</i>"  # inline whitespace still counts
    assert suite.normalise("&lt;i&gt;") != suite.normalise("<i>")
