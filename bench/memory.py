"""Peak-memory benchmark: every reader x writer on inputs of several shapes, against a bound.

    python bench/memory.py [--quick] [--sizes 10,50] [--huge 20,50] [--only many,oneline,huge]
                           [--no-render] [--python PATH]

Bound (issue 13, item 3): peak RSS <= 10 x input size + 150 MB, for every format pair, on inputs up
to 50 MB, including a whole file on one line and one item with one huge value.

Shapes, made in bench/work/memory/ (gitignored) and reused when already there:
  many      ordinary entries from ../shared/tools/gen_bib.py, as BibTeX, and as RIS and CSL-JSON
            converted from it by bibport;
  oneline   the same BibTeX with every newline turned into a space ('%' comment lines dropped:
            bibtexparser would read the rest of the file as the comment);
  huge      one item with one huge `note` (or `abstract`) value, in BibTeX, RIS and CSL-JSON.
A moderate BibTeX input is also rendered with `render --style apa`, reported apart.

Each run is a fresh child (this script's own memory never counts): it starts the bibport CLI,
waits for it and reads resource.getrusage(RUSAGE_CHILDREN).ru_maxrss, the peak of the largest
single process among the CLI and the workers it forks and waits for (bibport.parallel); that max is
what the bound applies to. The child also samples the process tree every 20 ms: the largest sum of
PSS over the tree at one moment (shared pages counted once), reported when workers existed.
Results: a table on stdout and bench/memory-results.json; exit status 1 if any run is over bound.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
GEN_BIB = Path("/work/shared/tools/gen_bib.py")
if not GEN_BIB.exists():
    GEN_BIB = ROOT.parent / "shared" / "tools" / "gen_bib.py"
WORK = BENCH / "work" / "memory"
RESULTS = BENCH / "memory-results.json"
SRC = [ROOT / "src"]  # --src: measure another checkout's code
MB = 1 << 20
ENTRIES_PER_MB = 1790  # gen_bib.py writes ~5.6 MB per 10,000 entries
OUTPUTS = ("bibtex", "biblatex", "csljson", "ris")
SUFFIX = {"bibtex": ".bib", "ris": ".ris", "csljson": ".json"}

# Runs in a fresh interpreter: its RUSAGE_CHILDREN covers only the CLI and the CLI's workers.
_MEASURE = r"""
import json, os, resource, subprocess, sys, time

def tree(root):
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    parents[int(name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return found

def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stderr_chunks = []
import threading
reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()))
reader.start()
max_sum, max_procs = 0, 1
while proc.poll() is None:
    pids = tree(proc.pid)
    max_procs = max(max_procs, len(pids))
    max_sum = max(max_sum, sum(pss_kb(pid) for pid in pids))
    time.sleep(0.02)
reader.join()
seconds = time.perf_counter() - start
errors = b"".join(stderr_chunks).decode("utf-8", "replace").strip().splitlines()
print(json.dumps({"rc": proc.returncode, "seconds": seconds,
                  "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "pss_sum_kb": max_sum, "processes": max_procs,
                  "last_error": next((line for line in reversed(errors) if "error" in line), "")}))
"""

# One paragraph of prose that every writer must escape somewhere: accents, LaTeX specials,
# dashes, quotes, a non-Latin letter, case-protected words.
_PROSE = ("Müller & Søhne measured 50% of the café's {DNA} samples – about $3 each – "
          "in Zürich’s lab_2; “see § 4” … naïve αβ tests, 10^6 runs, ~1 h. ")
_PROSE_LATEX = ("M{\\\"u}ller \\& S{\\o}hne measured 50\\% of the caf{\\'e}'s {DNA} samples -- "
                "about \\$3 each -- in Z{\\\"u}rich's lab\\_2; ``see \\S{} 4'' \\ldots{} na{\\\"\\i}ve "
                "$\\alpha\\beta$ tests, 10\\textasciicircum{}6 runs, \\textasciitilde{}1 h. ")


def _repeat(text: str, size: int) -> str:
    return (text * (size // len(text.encode()) + 1))[: size // 2 * 2]


def bibport(python: str, *args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC[0]))
    subprocess.run([python, "-m", "bibport", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_many(size: int, python: str) -> list[Path]:
    bib = WORK / f"many-{size}MB.bib"
    if not bib.exists():
        subprocess.run([sys.executable, str(GEN_BIB), "-n", str(size * ENTRIES_PER_MB), "-o", str(bib)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = [bib]
    for fmt in ("ris", "csljson"):
        target = bib.with_suffix(SUFFIX[fmt])
        if not target.exists():
            try:
                bibport(python, "convert", str(bib), "--to", fmt, "-o", str(target))
            except subprocess.CalledProcessError:  # warnings exit non-zero only under --strict
                pass
        out.append(target)
    return out


def make_oneline(size: int, python: str) -> Path:
    target = WORK / f"oneline-{size}MB.bib"
    if not target.exists():
        source = make_many(size, python)[0]
        with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
            out.write(" ".join(line.rstrip("\n") for line in lines if not line.lstrip().startswith("%")))
            out.write("\n")
    return target


def make_huge(size: int, variable: str) -> list[Path]:
    stem = WORK / f"huge-{variable}-{size}MB"
    bib, ris, js = (stem.with_suffix(s) for s in (".bib", ".ris", ".json"))
    if not bib.exists():
        bib.write_text("@article{huge2024,\n  author  = {M{\\\"u}ller, Anna and Smith, John},\n"
                       "  title   = {A Study of {DNA} Repair},\n  journal = {Journal of Tests},\n"
                       "  year    = {2024},\n"
                       f"  {variable} = {{{_repeat(_PROSE_LATEX, size * MB)}}},\n}}\n", encoding="utf-8")
    if not ris.exists():
        tag = "N1" if variable == "note" else "AB"
        ris.write_text("TY  - JOUR\nAU  - Müller, Anna\nAU  - Smith, John\nTI  - A Study of DNA Repair\n"
                       f"T2  - Journal of Tests\nPY  - 2024\n{tag}  - {_repeat(_PROSE, size * MB)}\nER  - \n",
                       encoding="utf-8")
    if not js.exists():
        item = {"id": "huge2024", "type": "article-journal", "title": "A Study of <span class=\"nocase\">DNA</span> Repair",
                "author": [{"family": "Müller", "given": "Anna"}, {"family": "Smith", "given": "John"}],
                "container-title": "Journal of Tests", "issued": {"date-parts": [[2024]]},
                variable: _repeat(_PROSE, size * MB)}
        js.write_text(json.dumps([item], ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [bib, ris, js]


def measure(python: str, argv: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SRC[0]))
    done = subprocess.run([python, "-c", _MEASURE, python, "-m", "bibport", *argv], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt_of(path: Path) -> str:
    return {".bib": "bibtex", ".ris": "ris", ".json": "csljson"}[path.suffix]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (5 MB, a 20 MB value), fewer pairs")
    parser.add_argument("--sizes", default="10,50", help="MB of the many/oneline inputs (default 10,50)")
    parser.add_argument("--huge", default="20,50", help="MB of the one huge value (default 20,50)")
    parser.add_argument("--only", default="many,oneline,huge", help="shapes to run")
    parser.add_argument("--no-render", action="store_true", help="skip the render --style apa run")
    parser.add_argument("--python", default=sys.executable, help="interpreter that has bibport's dependencies")
    parser.add_argument("--results", default=str(RESULTS), help="where to write the JSON results")
    parser.add_argument("--src", default=str(SRC[0]), help="the bibport source tree to measure")
    args = parser.parse_args()
    SRC[0] = Path(args.src)
    sizes = [5] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    huge_sizes = [20] if args.quick else [int(s) for s in args.huge.split(",") if s]
    shapes = set(args.only.split(","))
    WORK.mkdir(parents=True, exist_ok=True)

    inputs: list[tuple[str, Path]] = []
    for size in sizes:
        if "many" in shapes:
            inputs += [("many", p) for p in make_many(size, args.python)]
        if "oneline" in shapes:
            inputs.append(("oneline", make_oneline(size, args.python)))
    if "huge" in shapes:
        for size in huge_sizes:
            variable = "note" if size <= 20 else "abstract"
            inputs += [(f"huge {variable}", p) for p in make_huge(size, variable)]

    runs = []
    out_file = WORK / "out"
    print(f"{'shape':<14} {'input':<26} {'MB':>6}  {'from -> to':<20} {'peak MB':>8} {'bound':>7}  "
          f"{'':4} {'procs':>5} {'PSS sum':>8} {'s':>6}  rc")
    for shape, path in inputs:
        size_mb = path.stat().st_size / MB
        for to in OUTPUTS:
            result = measure(args.python, ["convert", str(path), "--to", to, "-o", str(out_file)])
            runs.append(_row(shape, path, size_mb, f"{fmt_of(path)} -> {to}", result))
    if not args.no_render:
        source = make_many(1, args.python)[0]
        result = measure(args.python, ["render", str(source), "--style", "apa", "-o", str(out_file)])
        runs.append(_row("render", source, source.stat().st_size / MB, "bibtex -> apa text", result))
    out_file.unlink(missing_ok=True)

    over = [run for run in runs if not run["ok"]]
    results_path = Path(args.results)
    results_path.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, {platform.system()} {platform.release()}, "
                   f"Python {platform.python_version()}",
        "bound": "peak RSS of the largest process <= 10 x input MB + 150 MB",
        "runs": runs}, indent=1) + "\n")
    print(f"\n{len(runs)} runs, {len(over)} over bound; results in {results_path}")
    return 1 if over else 0


def _row(shape: str, path: Path, size_mb: float, pair: str, result: dict) -> dict:
    peak = result["peak_kb"] / 1024
    bound = 10 * size_mb + 150
    row = {"shape": shape, "input": path.name, "size_mb": round(size_mb, 1), "pair": pair,
           "peak_mb": round(peak), "bound_mb": round(bound), "ok": peak <= bound,
           "processes": result["processes"], "pss_sum_mb": round(result["pss_sum_kb"] / 1024),
           "seconds": round(result["seconds"], 1), "rc": result["rc"], "error": result["last_error"]}
    workers = f"{row['processes']:>5} {row['pss_sum_mb']:>8}" if row["processes"] > 1 else f"{1:>5} {'':>8}"
    print(f"{shape:<14} {path.name:<26} {size_mb:>6.1f}  {pair:<20} {row['peak_mb']:>8} {row['bound_mb']:>7}  "
          f"{'OK' if row['ok'] else 'OVER':4} {workers} {row['seconds']:>6}  {row['rc']}", flush=True)
    return row


if __name__ == "__main__":
    sys.exit(main())
