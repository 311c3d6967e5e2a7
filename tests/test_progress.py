"""Progress bars: on a terminal for large inputs only, never in pipes or CI logs."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from bibport import api, cli
from bibport.diagnostics import Report
from conftest import require_shared


@pytest.fixture
def corpora() -> list[str]:
    return sorted(str(p) for p in require_shared("corpus").glob("*.bib"))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bars_unless_stderr_is_a_terminal(monkeypatch, corpora):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)
    assert cli._progress_for(corpora, io.StringIO(), screen=io.StringIO()) is None
    assert cli._progress_for(corpora, FakeTerminal(), screen=io.StringIO()) is not None


def test_no_bars_when_the_output_prints_on_the_same_terminal(monkeypatch, corpora):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)
    assert cli._progress_for(corpora, FakeTerminal(), output=None, screen=FakeTerminal()) is None
    assert cli._progress_for(corpora, FakeTerminal(), output="out.json", screen=FakeTerminal()) is not None
    assert cli._progress_for(corpora, FakeTerminal(), output="-", screen=io.StringIO()) is not None


def test_no_bars_in_ci_or_for_small_inputs(monkeypatch, corpora):
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)
    monkeypatch.setenv("CI", "true")
    assert cli._progress_for(corpora, FakeTerminal(), screen=io.StringIO()) is None
    monkeypatch.delenv("CI")
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 10**12)
    assert cli._progress_for(corpora, FakeTerminal(), screen=io.StringIO()) is None
    assert cli._progress_for(["-"], FakeTerminal(), screen=io.StringIO()) is None  # stdin: size unknown


@pytest.mark.slow
def test_bars_follow_reading_converting_and_writing(monkeypatch, corpora):
    terminal = FakeTerminal()
    bars = cli._ProgressBars(terminal)
    report = Report(progress=bars)
    items = api.read_sources(corpora, report)
    text = "".join(api.iter_write(items, "ris", report=report))
    bars.close()
    shown = terminal.getvalue()
    for stage in ("reading", "converting", "writing"):
        assert f"bibport: {stage}" in shown
    assert shown.count("100%") >= 3  # every stage ends full
    assert text == api.write(items, "ris", report=Report())  # watching changes nothing


@pytest.mark.slow
def test_a_pipe_gets_no_bar(tmp_path, monkeypatch, corpora):
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)  # in-process only; the child below uses its own
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "bibport", "convert", *corpora, "--to", "csljson",
                           "--keep-going", "-o", str(out)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})
    assert proc.returncode == 1  # plume-bib has errors; every good entry is still written
    assert "bibport: reading" not in proc.stderr and "\r" not in proc.stderr
    assert out.stat().st_size > 1_000_000


def _render_watched(items, jobs):
    terminal = FakeTerminal()
    bars = cli._ProgressBars(terminal)
    report = Report(progress=bars)
    text = api.write(items, "bibliography", report=report, style="apa", jobs=jobs)
    bars.close()
    return text, terminal.getvalue()


def test_render_shows_sorting_and_rendering_bars(corpora):
    # 600 entries: enough for the forked path (PARALLEL_THRESHOLD) and for -j 1's watched slices
    from bibport.formats import bibliography

    items = api.read_sources(corpora[:1], Report())
    unique = list({item["id"].casefold(): item for item in items}.values())[:600]
    assert len(unique) >= 2 * bibliography.PARALLEL_THRESHOLD
    quiet = api.write(unique, "bibliography", report=Report(), style="apa", jobs=2)
    for jobs in (1, 2):
        text, shown = _render_watched(unique, jobs)
        assert "bibport: sorting" in shown and "bibport: rendering" in shown
        assert shown.count("100%") >= 2
        assert text == quiet  # watching, and rendering in slices to be watched, changes nothing
