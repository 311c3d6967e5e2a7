# `make` sets everything up (.venv, install, dist/, citeproc-js for the differential test when Node.js
# is there); `make test` runs the whole suite, `make test-fast` all but the slow sweeps (under a minute).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BIBPORT := $(BIN)/bibport
REFS   := $(sort $(wildcard refs/*.bib))
STYLES := $(wildcard styles/*.csl)
DIST_STYLES := reading-list apa ieee acm-sig-proceedings chicago-author-date
DIFF   := tests/differential
# npm writes this hidden lock file at the end of every install: newer than package-lock.json means
# installed, whoever ran npm ci (.ci/run does it too, and must fail when it cannot)
NPM_STAMP := $(DIFF)/node_modules/.package-lock.json
NODE   := $(shell command -v node 2>/dev/null)

.PHONY: all install differential test test-fast lint docs bench fuzz clean
all: dist differential

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

dist: $(STAMP) $(REFS) refs/sections.tsv $(STYLES) $(wildcard src/bibport/*.py src/bibport/*/*.py)
	@mkdir -p dist
	$(BIBPORT) convert refs --to csljson -o dist/reading-list.json
	$(BIBPORT) convert refs --to csljson --profile zotero -o dist/reading-list.zotero.json
	$(BIBPORT) convert refs --to bibtex -o dist/reading-list.bib
	$(BIBPORT) convert refs --to biblatex -o dist/reading-list.biblatex.bib
	$(BIBPORT) convert refs --to ris -o dist/reading-list.ris
	@for style in $(DIST_STYLES); do for fmt in text markdown html; do \
	  ext=$$(case $$fmt in text) echo txt;; markdown) echo md;; html) echo html;; esac); \
	  echo "$(BIBPORT) render refs --style $$style --format $$fmt -o dist/reading-list.$$style.$$ext"; \
	  $(BIBPORT) render refs --style $$style --format $$fmt --group-by keyword \
	    --sections refs/sections.tsv --standalone -o dist/reading-list.$$style.$$ext || exit 1; \
	done; done
	@touch dist

# The differential rendering test needs citeproc-js: installed when Node.js is on PATH. Offline, say so
# and carry on (the test skips locally and fails in CI).
differential: $(if $(NODE),$(NPM_STAMP))
$(NPM_STAMP): $(DIFF)/package-lock.json
	@npm ci --prefix $(DIFF) --no-audit --no-fund --loglevel=error \
	  || echo "make: npm ci --prefix $(DIFF) failed (offline?): the differential rendering test will skip"

test: $(STAMP)
	$(BIN)/pytest -q

# Everything but the tests marked slow (the all-styles sweep, the hostile-file subprocess sweep, big
# corpora and property runs): those still run in `make test` and in CI.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

docs: $(STAMP)
	$(BIN)/python -c "from bibport import cli; cli.write_help_module('src/bibport/_help.py')"
	$(BIN)/python -c "import sys; from bibport.mappings.docs import render_mappings; sys.stdout.write(render_mappings())" > docs/mappings.md
	$(BIN)/python -c "import pathlib; from bibport.mappings.docs import with_losses; p = pathlib.Path('README.md'); p.write_text(with_losses(p.read_text()))"

bench: $(STAMP)
	@cd bench && (npm ci --no-audit --no-fund >/dev/null 2>&1 || echo "bench: npm ci failed; citation-js skipped")
	@$(BIN)/pip install -q pypandoc-binary >/dev/null 2>&1 || echo "bench: pypandoc-binary missing; pandoc skipped unless on PATH"
	$(BIN)/python bench/run.py

fuzz: $(STAMP)
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/pip install -q atheris || echo "atheris could not be installed: make fuzz needs it"
	FUZZ_SECONDS=60 PYTHON=$(BIN)/python fuzz/run.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf dist build *.egg-info
bench-memory: $(STAMP) ; $(BIN)/python bench/memory.py
