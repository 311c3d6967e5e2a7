"""The CSL processor test suite (../shared/csl-test-suite) run through bibport's public API.

A fixture is a text file of `>>== NAME ==>> ... <<== NAME ==<<` sections (SOURCES.md there). In
scope: MODE citation or bibliography, except citation fixtures with a CITATIONS section (citation
update sequences, whose expected output is the processor's incremental-update log).

How a fixture runs (as the citeproc-js test runner does):
- citation: the CITATION-ITEMS clusters, or one cluster citing every input item in input order;
  `bibport.citations(..., format="html")`, one line per cluster.
- bibliography: `bibport.bibliography(..., format="html", clusters=...)` with the fixture's
  clusters (CITATION-ITEMS, or the final state of a CITATIONS sequence, whose uncited items are
  not in the bibliography), inside `<div class="csl-bib-body">`.
Both sides are normalised the same way: whitespace around block tags (div) dropped, entities
written one way (&amp; &lt; &gt; named, every other entity as its character).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

SUITE_PARTS = ("csl-test-suite", "processor-tests", "humans")  # under ../shared
RATCHET = Path(__file__).with_name("csl-suite-known-failures.json")

_SECTION = re.compile(r"^>>=+\s*([A-Z-]+)\s*=+>>[ \t]*\n(.*?)^<<=+\s*\1\s*=+<<", re.S | re.M)
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_KEPT = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BLOCK = re.compile(r"\s*(</?div\b[^>]*>)\s*")


@dataclass(frozen=True)
class Fixture:
    name: str
    mode: str
    result: str
    csl: str
    items: list
    citation_items: list | None
    citations: list | None

    def clusters(self) -> list[list[dict]] | None:
        """The cite-item clusters the fixture cites (None: none given)."""
        if self.citation_items is not None:
            return [[c if isinstance(c, dict) else {"id": c} for c in cluster] for cluster in self.citation_items]
        if self.citations is not None:
            final: dict[str, list[dict]] = {}  # citationID -> its items, after the last update
            for citation, *_context in self.citations:
                final[citation.get("citationID", str(len(final)))] = citation["citationItems"]
            return list(final.values())
        return None


def parse(path: Path) -> Fixture:
    """One fixture file."""
    text = path.read_text(encoding="utf-8-sig")
    sections = {m.group(1): m.group(2) for m in _SECTION.finditer(text)}

    def data(name):
        return json.loads(sections[name]) if name in sections else None

    items = data("INPUT")
    for number, item in enumerate(items, 1):
        item.setdefault("id", f"ITEM-{number}")  # a few fixtures leave ids out; bibport cites by id
    return Fixture(path.stem, sections["MODE"].strip(), sections["RESULT"].rstrip("\n"), sections["CSL"],
                   items, data("CITATION-ITEMS"), data("CITATIONS"))


def in_scope(fixture: Fixture) -> bool:
    """Citation and bibliography fixtures, citation update sequences excepted."""
    if fixture.mode == "citation":
        return fixture.citations is None
    return fixture.mode == "bibliography"


def fixtures(folder: Path) -> list[Fixture]:
    """Every fixture of the suite's folder in scope, by name."""
    found = (parse(p) for p in sorted(folder.glob("*.txt")))
    return [f for f in found if in_scope(f)]


def _entity(match: re.Match) -> str:
    char = html.unescape(match.group(0))
    if char == match.group(0):
        return char  # not an entity html knows: left as written
    return _KEPT.get(char, char)


def normalise(text: str) -> str:
    """Whitespace around block tags and the spelling of entities made irrelevant."""
    text = _ENTITY.sub(_entity, text)
    return _BLOCK.sub(r"\1", text).strip()


def run(fixture: Fixture, style_folder: Path) -> tuple[str, list[str]]:
    """(bibport's output, its diagnostics) for a fixture, through the public API."""
    import bibport

    style = style_folder / f"{fixture.name}.csl"
    style.write_text(fixture.csl, encoding="utf-8")
    report = bibport.Report()
    clusters = fixture.clusters()
    if fixture.mode == "citation":
        if clusters is None:
            clusters = [[{"id": item["id"]} for item in fixture.items]]
        out = "\n".join(bibport.citations(fixture.items, clusters, style=str(style), format="html", report=report))
    else:
        items = fixture.items
        if fixture.citations is not None:  # works the final citations no longer cite are not listed
            cited = {str(c["id"]).lower() for cluster in clusters for c in cluster}
            items = [it for it in items if str(it.get("id")).lower() in cited]
        entries = bibport.bibliography(items, style=str(style), format="html", clusters=clusters, report=report)
        out = '<div class="csl-bib-body">\n' + "".join(f"  {e}\n" for e in entries) + "</div>" if entries else ""
    return out, [d.render() for d in report.diagnostics]


def passes(fixture: Fixture, style_folder: Path) -> bool:
    return normalise(run(fixture, style_folder)[0]) == normalise(fixture.result)


def known_failures() -> dict[str, str]:
    """The ratchet: fixture name -> why it fails (the file's "_about" entry aside)."""
    data = json.loads(RATCHET.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}
