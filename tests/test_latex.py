"""Real LaTeX: refs/ and bibport's BibTeX/biblatex output compile cleanly with bibtex and biber.

Each (input, engine, style) compiles a document citing every key, in a fresh directory, and fails on
a non-zero exit, any BibTeX/biber warning or error, or an undefined citation.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import REFS, ROOT, require_tool

TEMPLATES = ROOT / "tests" / "latex"
TIMEOUT = 180  # seconds per tool run; a cold font cache makes the first pdflatex slow

PDFLATEX = ("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape")
BIBTEX_STYLES = ("plain", "ieeetr", "acm")
BIBLATEX_STYLES = ("ieee", "authoryear")
# (input, engines it is meant for): biblatex output uses date/journaltitle/location, which
# classic .bst styles do not read, so it goes to biber only.
INPUTS = (
    ("refs", ("bibtex", "biber")),
    ("bibtex-output", ("bibtex", "biber")),
    ("biblatex-output", ("biber",)),
)
CASES = [(source, engine, style)
         for source, engines in INPUTS
         for engine in engines
         for style in (BIBTEX_STYLES if engine == "bibtex" else BIBLATEX_STYLES)]

# What counts as a failure in each tool's transcript.
BIBTEX_PROBLEMS = re.compile(r"^.*(?:Warning--|I was expecting|error message).*$", re.MULTILINE)
BIBER_PROBLEMS = re.compile(r"^.*\b(?:WARN|ERROR)\b.*$", re.MULTILINE)
LOG_PROBLEMS = re.compile(r"^.*(?:Citation .* undefined|There were undefined references"
                          r"|Empty bibliography).*$", re.MULTILINE)
ENTRY_KEY = re.compile(r"^\s*@\s*(\w+)\s*[{(]\s*([^,\s]+)\s*,", re.MULTILINE)


def _keys(text: str) -> list[str]:
    return [key for entry_type, key in ENTRY_KEY.findall(text)
            if entry_type.lower() not in ("string", "comment", "preamble")]


_generated: dict[str, str] = {}


def _bib_files(source: str) -> dict[str, str]:
    """File name -> content of the .bib files one input stands for."""
    if source == "refs":
        return {path.name: path.read_text(encoding="utf-8") for path in sorted(REFS.glob("*.bib"))}
    if source not in _generated:
        from bibport import api

        _generated[source] = api.convert(str(REFS), source.removesuffix("-output"))
    return {"bibport.bib": _generated[source]}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, errors="replace",
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _latex(tmp: Path) -> None:
    done = _run([*PDFLATEX, "main.tex"], tmp)
    log = (tmp / "main.log").read_text(encoding="latin-1") if (tmp / "main.log").exists() else ""
    assert done.returncode == 0, (f"pdflatex failed (exit {done.returncode}):\n"
                                  f"{_tail(done.stdout)}\n{_tail(log)}")


def _document(source: str, engine: str, style: str, tmp: Path) -> None:
    files = _bib_files(source)
    cite_keys = [key for text in files.values() for key in _keys(text)]
    assert cite_keys, f"no entries in {source}"
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    if engine == "bibtex":
        template = (TEMPLATES / "classic.tex").read_text(encoding="utf-8")
        bibfiles = ",".join(name.removesuffix(".bib") for name in files)
    else:
        template = (TEMPLATES / "biblatex.tex").read_text(encoding="utf-8")
        bibfiles = "\n".join(f"\\addbibresource{{{name}}}" for name in files)
    cites = ", ".join(f"\\cite{{{key}}}" for key in cite_keys)
    document = template.replace("@STYLE@", style).replace("@BIBFILES@", bibfiles).replace("@CITES@", cites)
    (tmp / "main.tex").write_text(document, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.tools
@pytest.mark.parametrize("source,engine,style", CASES, ids=[f"{s}-{e}-{st}" for s, e, st in CASES])
def test_compiles_cleanly(source, engine, style, tmp_path):
    """Every key cited; no BibTeX/biber warning or error, no undefined citation, exit codes 0."""
    require_tool("pdflatex", engine)
    _document(source, engine, style, tmp_path)
    _latex(tmp_path)
    if engine == "bibtex":
        done = _run(["bibtex", "main"], tmp_path)
        transcript = done.stdout + (tmp_path / "main.blg").read_text(encoding="latin-1", errors="replace")
        problems = sorted(set(BIBTEX_PROBLEMS.findall(transcript)))
    else:
        # --validate-datamodel: without it biber says nothing about missing required fields
        done = _run(["biber", "--validate-datamodel", "main"], tmp_path)
        transcript = done.stdout + done.stderr
        problems = BIBER_PROBLEMS.findall(transcript)
    assert not problems, f"{engine} with {style} on {source}:\n" + "\n".join(problems)
    assert done.returncode == 0, f"{engine} exit {done.returncode}:\n{_tail(transcript)}"
    _latex(tmp_path)
    _latex(tmp_path)
    log = (tmp_path / "main.log").read_text(encoding="latin-1")
    undefined = sorted(set(LOG_PROBLEMS.findall(log)))
    assert not undefined, "\n".join(undefined)
