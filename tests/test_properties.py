"""Property tests (issue 6): arbitrary text and mutated valid files into every reader.

Readers must never raise (only diagnostics), and every entry they can see is either read or named in
a diagnostic. Whatever they return must be writable by every writer without an exception.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bibport import formats
from bibport.diagnostics import Report
from bibport.mappings.bibtex import NON_CITABLE
from conftest import CASES, REFS

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
READERS = ("bibtex", "ris", "csljson")
NOT_ITEMS = {"string", "comment", "preamble", *NON_CITABLE}  # never become items by design
SUFFIX = {"bibtex": ".bib", "ris": ".ris", "csljson": ".json"}
WRITERS = ("csljson", "ris", "bibtex", "biblatex")


def _seeds(reader: str) -> list[str]:
    paths = sorted(CASES.glob(f"*/in{SUFFIX[reader]}"))
    if reader == "bibtex":
        paths += sorted(REFS.glob("*.bib"))[:10]
    texts = [p.read_bytes().decode("utf-8", "replace") for p in paths]
    return texts or ["@misc{a, title={x}}\n"]


SEEDS = {reader: _seeds(reader) for reader in READERS}

# Text with the characters that matter to the three syntaxes, plus controls and bidi.
ALPHABET = st.sampled_from(list("@{}(),=#\"%\\ \n\r\t-:[]TYER0123456789abcxyz") +
                           ["\x00", "\x1b", "\u202e", "\ufeff", "é", "\ud800", "  - ", "TY  - ", "ER  - "])
noisy_text = st.lists(ALPHABET, max_size=200).map("".join) | st.text(max_size=200)


@st.composite
def mutated(draw, reader: str):
    """A valid file with byte flips, deletions, insertions and duplicated or dropped lines."""
    text = draw(st.sampled_from(SEEDS[reader]))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "delete", "insert", "dup-line", "drop-line", "truncate")))
        lines = text.splitlines(keepends=True)
        if op == "dup-line" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "".join(lines)
        elif op == "drop-line" and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "".join(lines)
        elif op == "truncate" and text:
            text = text[:draw(st.integers(0, len(text)))]
        elif text:
            at = draw(st.integers(0, len(text) - 1))
            if op == "flip":
                text = text[:at] + chr(ord(text[at]) ^ (1 << draw(st.integers(0, 6)))) + text[at + 1:]
            elif op == "delete":
                text = text[:at] + text[at + draw(st.integers(1, 20)):]
            else:
                text = text[:at] + draw(noisy_text) + text[at:]
    return text


_BIB_OPEN = re.compile(r"^[ \t]*@[ \t]*(\w+)[ \t]*[{(][ \t]*([^,\s{}()\"#%'=\\]+)[ \t]*,", re.M)


def _visible_entries(reader: str, text: str) -> int:
    """A lower bound on the entries a reader must account for."""
    if reader == "bibtex":
        return sum(1 for m in _BIB_OPEN.finditer(text) if m.group(1).lower() not in NOT_ITEMS)
    if reader == "ris":
        return len(re.findall(r"^TY  - ", text.lstrip("\ufeff"), re.M))
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return 0
    return len(data) if isinstance(data, list) else 0


def _check(reader: str, text: str) -> None:
    report = Report()
    items = formats.get(reader).read(text, report, source="x")  # any exception fails the test
    assert isinstance(items, list)
    for item in items:
        assert isinstance(item, dict) and "id" in item and "type" in item, item
    for diagnostic in report.diagnostics:
        assert diagnostic.line is None or diagnostic.line >= 1
        assert "\n" not in diagnostic.render()
    errors = report.errors
    if reader == "bibtex":
        # every visible key is read or named (keys met twice count once)
        named = {d.key for d in report.diagnostics} | {i["id"] for i in items}
        messages = " ".join(d.message for d in report.diagnostics)
        for match in _BIB_OPEN.finditer(text):
            if match.group(1).lower() in NOT_ITEMS:
                continue
            key = match.group(2)
            assert key in named or key in messages, (key, report.render())
    else:
        assert len(items) + len(errors) >= _visible_entries(reader, text), report.render()
    for target in WRITERS:
        formats.get(target).write(items, Report())


@pytest.mark.parametrize("reader", READERS)
@SETTINGS
@given(data=st.data())
def test_arbitrary_text_never_raises(reader, data):
    _check(reader, data.draw(noisy_text))


@pytest.mark.parametrize("reader", READERS)
@SETTINGS
@given(data=st.data())
def test_mutated_valid_files_never_raise_and_lose_nothing(reader, data):
    _check(reader, data.draw(mutated(reader)))


@pytest.mark.parametrize("reader", READERS)
@SETTINGS
@given(data=st.data())
def test_foreign_inputs_never_raise(reader, data):
    # another format's file handed to this reader (a wrong --from)
    other = data.draw(st.sampled_from([r for r in READERS if r != reader]))
    _check(reader, data.draw(mutated(other)))


VALUE_ALPHABET = st.sampled_from(list('{}"# \n0123456789abjn,=%\\') + ["é", "١"])
VALUE_TEXT = st.text(VALUE_ALPHABET, max_size=12)
# Free text, and text inside the delimiters the shortcuts look for.
RAW_VALUES = st.one_of(VALUE_TEXT, VALUE_TEXT.map(lambda t: f'"{t}"'), VALUE_TEXT.map(lambda t: f"{{{t}}}"),
                       st.from_regex(r"[0-9١]{1,4}|[a-z][a-z0-9]{0,3}", fullmatch=True))


@SETTINGS
@given(raw=RAW_VALUES)
def test_value_shortcuts_agree_with_the_term_by_term_evaluation(raw):
    """The reader's shortcuts for one brace group, one plain quoted string, a number and a lone
    macro name give what evaluating the value term by term gives, errors included."""
    from bibport.formats import bibtex

    def outcome(evaluate, macros):
        try:
            return evaluate(raw, macros)
        except bibtex.ValueError_ as problem:
            return (problem.code, str(problem), problem.offset)

    for macros in ({}, {"jan": "January", "a": "A"}):
        assert outcome(bibtex.evaluate, macros) == outcome(bibtex._evaluate_terms, macros)
    general = outcome(bibtex._evaluate_terms, {})
    assert bibtex._macro_free(raw) == (general if isinstance(general, str) else None)


UNSAFE_SAMPLE = ["\x00", "\x1b", "\x7f", "\x85", "\x9f", "\u200e", "\u202e", "\u2066", "\u2069"]
SAFE_SAMPLE = ["a", " ", "é", "\xa0", "\u200d", "\u2065", "\u206a", "\\", "u"]


@SETTINGS
@given(text=st.text(st.sampled_from(UNSAFE_SAMPLE + SAFE_SAMPLE), max_size=20))
def test_messages_are_sanitized_character_by_character(text):
    """Every control, DEL, C1 and bidi character becomes `\\uXXXX`; every other character stays."""
    from bibport.diagnostics import sanitize

    expected = "".join(f"\\u{ord(c):04x}" if c in UNSAFE_SAMPLE else c for c in text)
    assert sanitize(text) == expected
