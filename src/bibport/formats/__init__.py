"""Format registry (above the format modules): name -> Format(read, write), lookup by suffix.

Format modules are imported lazily so that `bibport --help` stays fast and a format's heavy
dependency (citeproc) loads only when that format is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    module: str
    suffixes: tuple[str, ...]
    readable: bool
    writer_options: tuple[tuple[str, object], ...] = ()  # fixed options this name passes to write()

    def _load(self):
        return importlib.import_module(f"bibport.formats.{self.module}")

    def read(self, text, report, *, source=None):
        """Parse text into CSL items, reporting problems."""
        return self._load().read(text, report, source=source)

    def write(self, items, report, **options):
        """Serialise CSL items."""
        return self._load().write(items, report, **{**dict(self.writer_options), **options})

    def records(self, items, report, **options):
        """Serialise CSL items as an iterator of text pieces (one piece for formats that cannot stream)."""
        module = self._load()
        options = {**dict(self.writer_options), **options}
        if hasattr(module, "records"):
            return module.records(items, report, **options)
        return iter((module.write(items, report, **options),))


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("bibtex", "bibtex", (".bib", ".bibtex"), True, (("dialect", "bibtex"),)),
        Format("biblatex", "bibtex", (".biblatex.bib",), True, (("dialect", "biblatex"),)),
        Format("csljson", "csljson", (".json", ".csl.json", ".csljson"), True),
        Format("ris", "ris", (".ris",), True),
        Format("bibliography", "bibliography", (".txt", ".html", ".md", ".rst", ".tex"), False),
    )
}

ALIASES = {"bib": "bibtex", "json": "csljson", "csl-json": "csljson", "csl": "csljson"}


def get(name: str) -> Format:
    """The format called `name` (or an alias); KeyError if unknown."""
    return FORMATS[ALIASES.get(name.lower(), name.lower())]


def guess(path: str, *, readable: bool = True) -> Format | None:
    """The format whose suffix ends `path` (longest suffix wins), or None."""
    lowered = path.lower()
    best = None
    for fmt in FORMATS.values():
        if readable and not fmt.readable:
            continue
        for suffix in fmt.suffixes:
            if lowered.endswith(suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), fmt)
    return best[1] if best else None
