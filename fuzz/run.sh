#!/bin/sh
# Time-boxed fuzzing: each target runs FUZZ_SECONDS (default 60) from a seed corpus of our own files.
# Crashes land in fuzz/crashes/; turn each into a tests/hostile/ file or a regression test.
set -u
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
SECONDS_EACH=${FUZZ_SECONDS:-60}
if ! "$PY" -c "import atheris" 2>/dev/null; then
  echo "make fuzz: atheris is not installed (it is a dev tool, not a dependency): $PY -m pip install atheris" >&2
  exit 2
fi
mkdir -p crashes corpus
status=0
for target in bibtex ris csljson style; do
  case $target in
    bibtex) seeds="../tests/cases/*/in.bib ../tests/hostile/*.bib ../refs/*.bib" ;;
    ris) seeds="../tests/cases/*/in.ris ../tests/hostile/*.ris" ;;
    csljson) seeds="../tests/cases/*/in.json ../tests/hostile/*.json" ;;
    style) seeds="../tests/hostile/*.csl ../styles/*.csl" ;;
  esac
  mkdir -p "corpus/$target"
  for seed in $seeds; do [ -f "$seed" ] && cp -f "$seed" "corpus/$target/"; done
  echo "== fuzz_$target.py for ${SECONDS_EACH}s" >&2
  "$PY" "fuzz_$target.py" "corpus/$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
    -max_len=65536 -artifact_prefix="crashes/$target-" -print_final_stats=1 2>"crashes/$target.log"
  code=$?
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|==[0-9]+== " "crashes/$target.log" >&2
  [ $code -ne 0 ] && status=1 && echo "fuzz_$target: crash, see fuzz/crashes/" >&2
done
exit $status
