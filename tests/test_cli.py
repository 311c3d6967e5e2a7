"""The CLI through click's runner and through a real subprocess: output, exit codes, atomic -o."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from bibport.cli import cli
from conftest import CASES, ROOT

GOOD = CASES / "string-macros" / "in.bib"
BROKEN = CASES / "missing-comma" / "in.bib"


def run(*args, stdin=None):
    """bibport as a user runs it: a new process, exit code and both streams."""
    return subprocess.run([sys.executable, "-m", "bibport", *args], input=stdin, capture_output=True,
                          cwd=ROOT, timeout=120)


def test_convert_to_stdout():
    result = CliRunner().invoke(cli, ["convert", str(GOOD), "--to", "csljson"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["id"] for i in items] == ["barham2003xen"]


def test_subprocess_version_and_help():
    assert run("--version").stdout.decode().startswith("bibport, version")
    helped = run("--help")
    assert helped.returncode == 0 and b"convert" in helped.stdout


def test_usage_error_exits_2():
    assert run("convert", str(GOOD)).returncode == 2          # --to missing
    assert run("convert", str(GOOD), "--to", "nope").returncode == 2
    assert run("frobnicate").returncode == 2


def test_stdin_to_stdout():
    result = run("convert", "-", "--to", "csljson", stdin=GOOD.read_bytes())
    assert result.returncode == 0
    assert json.loads(result.stdout)[0]["citation-key"] == "barham2003xen"


def test_folder_input_reads_bib_files_sorted(tmp_path):
    for name in ("b.bib", "a.bib"):
        (tmp_path / name).write_text(f"@misc{{{name[0]}key, title = {{{name}}}}}\n", encoding="utf-8")
    (tmp_path / "ignored.txt").write_text("@misc{zz, title={no}}", encoding="utf-8")
    result = run("convert", str(tmp_path), "--to", "csljson")
    assert [i["id"] for i in json.loads(result.stdout)] == ["akey", "bkey"]


def test_errors_name_file_line_key_and_exit_1():
    result = run("convert", str(BROKEN), "--to", "csljson")
    assert result.returncode == 1
    assert result.stdout == b""
    assert f"{BROKEN}:3: error[missing-comma]".encode() in result.stderr
    assert b"(nocomma)" in result.stderr
    assert b"Traceback" not in result.stderr


def test_error_leaves_existing_output_untouched(tmp_path):
    out = tmp_path / "out.json"
    out.write_bytes(b"previous contents\n")
    result = run("convert", str(BROKEN), "--to", "csljson", "-o", str(out))
    assert result.returncode == 1
    assert out.read_bytes() == b"previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left


def test_error_creates_no_output_file(tmp_path):
    out = tmp_path / "new.json"
    assert run("convert", str(BROKEN), "--to", "csljson", "-o", str(out)).returncode == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_keep_going_writes_good_entries_and_still_fails(tmp_path):
    out = tmp_path / "out.json"
    result = run("convert", str(BROKEN), "--to", "csljson", "--keep-going", "-o", str(out))
    assert result.returncode == 1
    assert [i["id"] for i in json.loads(out.read_text(encoding="utf-8"))] == ["fine"]


def test_strict_turns_warnings_into_failure(tmp_path):
    case = CASES / "unmapped-field-custom" / "in.bib"
    assert run("convert", str(case), "--to", "csljson").returncode == 0
    strict = run("convert", str(case), "--to", "csljson", "--strict")
    assert strict.returncode == 1 and b"warning[unmapped-field]" in strict.stderr


def test_report_json():
    result = run("convert", str(BROKEN), "--to", "csljson", "--report", "json")
    diagnostics = json.loads(result.stderr)
    assert {"severity": "error", "code": "missing-comma", "line": 3, "key": "nocomma"}.items() <= \
        diagnostics[0].items()


def test_non_utf8_names_the_line_and_suggests_encoding(tmp_path):
    case = CASES / "non-utf8" / "in.bib"
    result = run("convert", str(case), "--to", "csljson")
    assert result.returncode == 1 and b"in.bib:1: error[encoding]" in result.stderr
    latin = run("convert", str(case), "--to", "csljson", "--encoding", "latin-1")
    assert latin.returncode == 0
    assert json.loads(latin.stdout)[0]["author"][0]["given"] == "François"


def test_every_write_format(tmp_path):
    for fmt in ("csljson", "bibtex", "biblatex"):
        result = CliRunner().invoke(cli, ["convert", str(GOOD), "--to", fmt])
        assert result.exit_code == 0, (fmt, result.output)
        assert result.stdout.endswith("\n") and not result.stdout.endswith("\n\n")


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_internal_error_is_exit_70_without_traceback(tmp_path, monkeypatch):
    script = ("import bibport.api as a, sys\n"
              "def boom(*x, **y): raise RuntimeError('simulated bug')\n"
              "a.read_sources = boom\n"
              "from bibport.cli import main\n"
              "sys.argv = ['bibport', 'convert', '-', '--to', 'csljson']\n"
              "main()\n")
    result = subprocess.run([sys.executable, "-c", script], input=b"", capture_output=True, timeout=60)
    assert result.returncode == 70
    assert b"internal error" in result.stderr and b"Traceback" not in result.stderr


def test_check_command_exit_codes():
    clean = run("check", "--strict", str(ROOT / "refs"))
    assert clean.returncode == 0 and clean.stdout == b""
    assert b"15 entries in 15 files, 0 errors, 0 warnings" in clean.stderr
    case = CASES / "doi-bare" / "in.bib"
    lenient = run("check", str(case))
    assert lenient.returncode == 0 and b"warning[doi-url-prefix]" in lenient.stdout
    assert run("check", "--strict", str(case)).returncode == 1
    broken = run("check", str(BROKEN))
    assert broken.returncode == 1 and b"error[missing-comma]" in broken.stdout


def test_lines_stay_exact_after_backslash_newline_in_a_value(tmp_path):
    # bibtexparser does not count a newline that follows a backslash: its block lines drift by
    # one per such newline, so bibport finds each block and field in the text itself.
    source = tmp_path / "drift.bib"
    source.write_text(
        '@misc{first,\n  note = "a value ending in a backslash\\\n  and again\\\n  done",\n}\n\n'
        '@misc{second,\n  title = {Fine},\n  journal = undefinedmacro,\n}\n', encoding="utf-8")
    result = run("convert", str(source), "--to", "csljson")
    assert result.returncode == 1
    assert f"{source}:9: error[undefined-macro]".encode() in result.stderr, result.stderr


def _items_with_writer_warnings(tmp_path, count=600):
    """CSL-JSON that reads cleanly but that RIS cannot hold whole (custom fields): only the writer warns."""
    items = [{"id": f"k{n}", "type": "book", "title": f"Book {n}", "custom": {"shelf": f"A{n}"}}
             for n in range(count)]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def test_streamed_output_obeys_strict_for_writer_warnings(tmp_path):
    source = _items_with_writer_warnings(tmp_path)
    plain = run("convert", str(source), "--to", "ris")
    assert plain.returncode == 0 and plain.stdout.count(b"ER  - ") == 600  # streamed whole
    assert b"warning[ris-unexpressible]" in plain.stderr
    strict = run("convert", str(source), "--to", "ris", "--strict")
    assert strict.returncode == 1 and strict.stdout == b""  # nothing printed before the verdict
    out = tmp_path / "out.ris"
    to_file = run("convert", str(source), "--to", "ris", "--strict", "-o", str(out))
    assert to_file.returncode == 1 and not out.exists()
    assert not list(tmp_path.glob(".out.ris.*"))  # no temporary file left behind
