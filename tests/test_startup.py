"""`bibport --version` and `--help` answer without importing click or the formats, and say exactly
what click would say."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from bibport import _help, cli
from conftest import ROOT

PROBE = ("import sys, runpy; sys.argv = ['bibport', {flag!r}]; "
         "from bibport.__main__ import entry; entry(); "
         "print('LOADED', sorted(m for m in sys.modules if m.startswith(('click', 'bibport.'))))")


def _run(code: str, columns: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=60)


def test_stored_help_is_what_click_prints():
    # regenerate with `make docs` when a command or option changes
    assert _help.TEXT == cli.top_help()
    assert _help.TEXT == CliRunner().invoke(cli.cli, ["--help"], prog_name="bibport", terminal_width=78).output


@pytest.mark.parametrize("flag", ["--help", "-h", "--version"])
def test_help_and_version_import_neither_click_nor_formats(flag):
    proc = _run(PROBE.format(flag=flag))
    out, loaded = proc.stdout.rsplit("LOADED", 1)
    assert proc.returncode == 0, proc.stderr
    assert "click" not in loaded and "bibport.formats" not in loaded and "bibport.api" not in loaded
    if flag == "--version":
        assert out.startswith("bibport, version")
    else:
        assert out == cli.top_help()


def test_narrow_terminal_gets_clicks_own_wrapping():
    proc = _run(PROBE.format(flag="--help"), columns="60")
    out, loaded = proc.stdout.rsplit("LOADED", 1)
    assert "click" in loaded  # the stored text is for 80 columns: click formats this one itself
    assert out == CliRunner().invoke(cli.cli, ["--help"], prog_name="bibport", terminal_width=58).output
    assert out != cli.top_help()
