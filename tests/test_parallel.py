"""Forked, chunked work gives exactly what one process gives: items, text and diagnostics alike.

Every test runs the same input twice: once with the thresholds so high that nothing forks, once
with them so low that the input is cut into many small chunks and jobs spread over children.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bibport import api, parallel
from bibport.diagnostics import Report
from bibport.formats import bibtex
from conftest import CASES, require_shared, shared_files

HOSTILE = Path(__file__).parent / "hostile"
BIB_INPUTS = [*shared_files("corpus", "*.bib", marks=pytest.mark.slow),
              *sorted([*HOSTILE.glob("bib-*.bib"), *CASES.glob("*/in.bib")])]


def _serial(monkeypatch):
    monkeypatch.setattr(bibtex, "PARALLEL_MIN_CHARS", 10**12)
    monkeypatch.setattr(bibtex, "PARALLEL_MIN_ENTRIES", 10**12)
    monkeypatch.setattr(bibtex, "CHUNK_CHARS", 10**12)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 10**12)


def _forked(monkeypatch, chunk_chars: int = 2_000, per_job: int = 7) -> list[int]:
    """Forces forking; the returned list grows by one per fork, so a test can see it happened."""
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork():
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    monkeypatch.setattr(bibtex, "PARALLEL_MIN_CHARS", 2)
    monkeypatch.setattr(bibtex, "PARALLEL_MIN_ENTRIES", 2)
    monkeypatch.setattr(bibtex, "CHUNK_CHARS", chunk_chars)
    monkeypatch.setattr(bibtex, "ITEMS_PER_JOB", per_job)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 2)
    monkeypatch.setattr(parallel, "PER_JOB", per_job)
    monkeypatch.setattr(parallel, "cores", lambda: 3)  # two children even on a one-core machine
    return forks


def _read(path: Path):
    report = Report()
    data = path.read_bytes()
    text = api.decode(data, report, source=path.name)
    items = bibtex.read(text, report, source=path.name)
    return items, [d.render() for d in report.diagnostics]


@pytest.mark.skipif(not parallel.can_fork(), reason="needs os.fork")
@pytest.mark.parametrize("path", BIB_INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chunked_forked_reading_matches_one_process(path, monkeypatch):
    with monkeypatch.context() as serial:
        _serial(serial)
        expected = _read(path)
    with monkeypatch.context() as forked:
        # small chunks cut inside broken entries too; the reader must rejoin them as one parse would
        forks = _forked(forked, chunk_chars=max(200, path.stat().st_size // 9))
        got = _read(path)
    assert forks or path.stat().st_size < 400  # tiny files make one chunk: nothing to fork for
    assert got[1] == expected[1]
    assert got[0] == expected[0]


def _read_text(text: str):
    report = Report()
    items = bibtex.read(text, report, source="one-line.bib")
    return items, [d.render() for d in report.diagnostics]


@pytest.mark.skipif(not parallel.can_fork(), reason="needs os.fork")
@pytest.mark.parametrize("path", BIB_INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_one_line_file_cut_between_blocks_reads_as_one_parse(path, monkeypatch):
    """A file on one line has no line-start opening to cut at: the cuts fall on openings after a
    blank, inside values and broken entries too, and must still give one parse's blocks."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r", " ").replace("\n", " ")
    with monkeypatch.context() as serial:
        _serial(serial)
        expected = _read_text(text)
    with monkeypatch.context() as forked:
        forks = _forked(forked, chunk_chars=max(200, len(text) // 9))
        got = _read_text(text)
    assert forks or len(text) < 400
    assert got[1] == expected[1]
    assert got[0] == expected[0]


def test_one_line_text_is_cut_into_shares():
    one_line = " ".join(f"@misc{{k{n}, note = {{x}}}}" for n in range(400))
    points = bibtex._split_points(one_line, 8)
    assert len(points) == 8
    assert all(one_line.startswith("@misc{", point) for point in points[1:])


@pytest.fixture(scope="module")
def corpus_items():
    report = Report()
    items = api.read_sources(sorted(str(p) for p in require_shared("corpus").glob("*.bib")), report)
    return items, dict(report.origins)


@pytest.mark.skipif(not parallel.can_fork(), reason="needs os.fork")
@pytest.mark.parametrize("fmt,options", [
    ("csljson", {}), ("csljson", {"profile": "zotero"}), ("ris", {}), ("ris", {"line_ending": "\n"}),
    ("bibtex", {}), ("biblatex", {}), ("bibtex", {"ascii": False}),
])
@pytest.mark.slow
def test_forked_writing_matches_one_process(fmt, options, corpus_items, monkeypatch):
    items, origins = corpus_items

    def run():
        report = Report(origins=dict(origins))
        pieces = list(api.iter_write(items, fmt, report=report, **options))
        return pieces, [d.render() for d in report.diagnostics]

    with monkeypatch.context() as serial:
        _serial(serial)
        expected_pieces, expected_report = run()
    with monkeypatch.context() as forked:
        forks = _forked(forked, per_job=97)
        pieces, diagnostics = run()
    assert forks
    assert "".join(pieces) == "".join(expected_pieces)
    assert diagnostics == expected_report
    assert len(pieces) > 10  # streamed: one piece per job, not one string at the end
    assert "".join(pieces) == api.write(items, fmt, report=Report(), **options)


def test_empty_input_writes_what_one_process_writes():
    assert api.write([], "csljson", report=Report()) == "[]\n"
    assert api.write([], "ris", report=Report()) == ""
    assert api.write([], "bibtex", report=Report()) == ""


@pytest.mark.skipif(not parallel.can_fork(), reason="needs os.fork")
def test_a_job_failing_in_a_child_is_redone_here():
    parent = os.getpid()

    def square_unless_child(n):
        if os.getpid() != parent and n % 3 == 0:
            raise RuntimeError("only in the child")
        return n * n

    jobs = [(n,) for n in range(40)]
    assert list(parallel.ordered_map(square_unless_child, jobs, 3)) == [n * n for n in range(40)]


@pytest.mark.skipif(not parallel.can_fork(), reason="needs os.fork")
def test_a_child_that_dies_leaves_its_jobs_to_this_process():
    parent = os.getpid()

    def die_in_child(n):
        if os.getpid() != parent and n > 10:
            os._exit(3)  # no result, no traceback: the pipe just ends
        return -n

    jobs = [(n,) for n in range(30)]
    assert list(parallel.ordered_map(die_in_child, jobs, 2)) == [-n for n in range(30)]


def test_one_process_when_forking_does_not_pay():
    assert parallel.workers_for(10) == 1
    assert parallel.workers_for(parallel.MIN_ITEMS - 1) == 1
    assert 1 <= parallel.workers_for(10**6) <= parallel.cores()
    assert parallel.slices(2_500, 1_000) == [(0, 1_000), (1_000, 2_000), (2_000, 2_500)]



@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["bibtex", "ris", "csljson"])
def test_read_items_join_the_oldest_generation(fmt):
    """Readers build their items with the cyclic collector off, then hand them to the oldest
    generation: left young, the collector's next pass walked every one (86 ms after 10k entries)."""
    import gc

    bib = require_shared("corpus", "iridia-references.bib").read_text(encoding="utf-8")
    text = bib if fmt == "bibtex" else api.write(api.read(bib, "bibtex", report=Report()), fmt)
    gc.collect()
    young_before = gc.get_count()[0]
    passes: list[int] = []
    gc.callbacks.append(lambda phase, info: passes.append(info["generation"]) if phase == "start" else None)
    try:
        items = api.read(text, fmt, report=Report())
    finally:
        gc.callbacks.pop()
    assert len(items) > 3000
    assert passes == []  # the collector never ran while the items were being built
    assert gc.isenabled()
    assert gc.get_count()[0] < young_before + 100  # not one young object per item or more
    gc.disable()
    try:
        api.read(text, fmt, report=Report())
        assert not gc.isenabled()  # a caller who keeps the collector off keeps it off
    finally:
        gc.enable()


def test_reading_leaves_what_the_caller_froze_frozen():
    """An embedding program's gc.freeze() (before forking workers, say) survives a read."""
    import gc

    kept = [{"frozen": n} for n in range(10)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        api.read(CASES / "string-macros" / "in.bib")
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    assert kept
