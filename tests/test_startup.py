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


def _run(flag: str, columns: str | None = None) -> tuple[str, set[str]]:
    """bibport's output for one flag, and the modules it imported (from -X importtime)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "bibport", flag], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return proc.stdout, loaded


def test_stored_help_is_what_click_prints():
    # regenerate with `make docs` when a command or option changes
    assert _help.TEXT == cli.top_help()
    assert _help.TEXT == CliRunner().invoke(cli.cli, ["--help"], prog_name="bibport", terminal_width=78).output


@pytest.mark.parametrize("flag", ["--help", "-h", "--version"])
def test_help_and_version_import_neither_click_nor_formats(flag):
    out, loaded = _run(flag)
    assert "bibport" in loaded  # importtime did list the imports
    assert not {"click", "bibport.cli", "bibport.api", "bibport.formats"} & loaded
    if flag == "--version":
        assert out.startswith("bibport, version")
    else:
        assert out == cli.top_help()


def test_narrow_terminal_gets_clicks_own_wrapping():
    out, loaded = _run("--help", columns="60")
    assert "click" in loaded  # the stored text is for 80 columns: click formats this one itself
    assert out == CliRunner().invoke(cli.cli, ["--help"], prog_name="bibport", terminal_width=58).output
    assert out != cli.top_help()
