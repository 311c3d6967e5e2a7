"""Citation clusters and bibliography entries as strings (format layer helper of formats.bibliography).

What `bibport.citations()` and `bibport.bibliography()` call. A cluster is a list of cite items in
the shape citeproc-js, pandoc and Zotero use: `{"id": ..., "locator": ..., "label": ...,
"prefix": ..., "suffix": ..., "suppress-author": bool, "author-only": bool}`.

Works are numbered (citation-number) in the order they are first cited, then the uncited ones in
the order given, as citeproc-js registers them; a bibliography given the same clusters numbers its
entries the same way. Styles, locales, item preparation, sorting and the rich-text markers are
formats.bibliography's; the citation layout is driven here rather than by citeproc-py's
render_citation, which reorders the cites of a cluster by bibliography order when the style has no
cs:sort (citeproc-js keeps them as given) and knows neither suppress-author nor author-only.

html is the markup the CSL test suite (citeproc-js) prints: a citation is inline HTML, an entry is
`<div class="csl-entry">` (with csl-left-margin / csl-right-inline divs under second-field-align);
data is escaped.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import citeproc
from citeproc import model
from citeproc.source import VariableError

from bibport.formats import bibliography as bib
from bibport.formats import citeproc_fixes as fixes

FORMATS = ("text", "html", "markdown", "rst", "latex")
CITE_KEYS = ("id", "locator", "label", "prefix", "suffix", "suppress-author", "author-only")
# kept in a cite item's instance __dict__ (its dict keys are what citeproc reads as fields)
_AUTHOR_REQUEST = "_bibport_author_request"  # "suppress" or "only", as the cite item asks
_AUTHOR_MODE = "_bibport_author_mode"  # the request, while the layout (not a sort key) renders
_AUTHOR_TEXT = "_bibport_author_text"
_NAMES_DEPTH = "_bibport_names_depth"
_YEAR_SUFFIX_DONE = "_bibport_year_suffix_done"
_LOCK = fixes._LOCK  # one lock for every swap of citeproc methods, whatever the order they nest in


class _Setup:
    """A resolved style, its locale and the prepared items (or the error that stopped it)."""

    def __init__(self, items, report, style, locale, fmt, need_citation: bool):
        self.ok = False
        if fmt not in FORMATS:
            report.error("unknown-output", f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
            return
        loaded = bib._load_for_render(style, locale, report, "citation" if need_citation else "bibliography")
        if loaded is None:
            return
        path, _source, self.tag = loaded
        self.mtime = path.stat().st_mtime
        self.path = str(path.resolve())
        self.name = path.stem
        self.style = bib._processor_style(self.path, self.mtime, self.tag)
        self.prepared = bib.prepare(items, report)
        if self.prepared is None:
            return
        self.by_lower = {it["id"].lower(): it for it in self.prepared}
        self.writer = bib.WRITERS[fmt]()
        self.fmt = fmt
        self.ok = True


def _check_clusters(clusters, report, known) -> list[list[dict]] | None:
    """Clusters as lists of cite-item dicts; errors for bad shapes and unknown ids (None then)."""
    if not isinstance(clusters, (list, tuple)):
        report.error("bad-cite", "clusters must be a list of lists of cite items")
        return None
    out, unknown, failed = [], [], False
    for number, cluster in enumerate(clusters, 1):
        if isinstance(cluster, dict):
            cluster = [cluster]  # one cite item given without its list
        if not isinstance(cluster, (list, tuple)) or not all(isinstance(c, dict) and "id" in c for c in cluster):
            report.error("bad-cite", f"cluster {number}: expected a list of {{\"id\": ...}} cite items")
            failed = True
            continue
        for cite in cluster:
            extra = sorted(set(cite) - set(CITE_KEYS) - {"position", "near-note", "note-number"})
            if extra:
                report.warning("bad-cite", f"cluster {number}: cite-item keys ignored: {', '.join(extra)}",
                               key=str(cite["id"]))
            if str(cite["id"]).lower() not in known:
                unknown.append(str(cite["id"]))
        out.append(list(cluster))
    if unknown:
        report.error("unknown-cite-key", f"cited keys not in the input: {', '.join(dict.fromkeys(unknown))}")
        failed = True
    return None if failed else out


def _first_cited(clusters) -> list[str]:
    return list(dict.fromkeys(str(c["id"]).lower() for cluster in clusters or () for c in cluster))


def _order(setup: _Setup, clusters, report) -> list[str]:
    """Item ids in bibliography order (which is also citation-number order)."""
    first = [setup.by_lower[k]["id"] for k in _first_cited(clusters)]
    return bib._sort_order(setup.path, setup.mtime, setup.tag, setup.prepared, "style", first, report, 1)


# --- suppress-author and author-only ----------------------------------------------------------------
# CSL (and citeproc-js): the "author" of a cite is the first cs:names the citation layout prints for
# it, substitutes included; suppress-author drops it, author-only prints it alone.

def _names_render(original):
    def render(self, item, *args, **kwargs):
        mode = item.__dict__.get(_AUTHOR_MODE) if isinstance(item, citeproc.CitationItem) else None
        if mode is None:
            return original(self, item, *args, **kwargs)
        depth = item.__dict__.get(_NAMES_DEPTH, 0)
        item.__dict__[_NAMES_DEPTH] = depth + 1
        try:
            text = original(self, item, *args, **kwargs)
        finally:
            item.__dict__[_NAMES_DEPTH] = depth
        if depth or not text or _AUTHOR_TEXT in item.__dict__:
            return text  # a name list nested in the author's substitute, or not the first one
        item.__dict__[_AUTHOR_TEXT] = text
        return None if mode == "suppress" else text
    return render


@contextmanager
def _author_modes():
    with _LOCK:
        original = model.Names.__dict__.get("render")  # None: inherited, restored by deleting ours
        model.Names.render = _names_render(model.Names.render)
        try:
            yield
        finally:
            if original is None:
                del model.Names.render
            else:
                model.Names.render = original


# --- disambiguation: year-suffix ----------------------------------------------------------------------
# CSL 4.9 / citeproc-js: works whose first citations print the same get year-suffixes a, b, c ... in
# bibliography order (after z: aa, ab, ...), when the style's cs:citation asks for them. A style that
# prints no `year-suffix` variable gets it after the first year a cs:date prints (citation and entry).
# (Adding names or given names first, which citeproc-js tries before year-suffixes, is not done.)

def _letters(number: int) -> str:
    out = ""
    while True:
        number, rest = divmod(number, 26)
        out = chr(ord("a") + rest) + out
        if not number:
            return out
        number -= 1


def _alone(setup: _Setup, registered, key: str) -> str:
    """The work's first citation, by itself: what year-suffixes tell apart."""
    layout = setup.style.root.citation.layout
    cite = citeproc.CitationItem(key)
    citeproc.Citation([cite]).bibliography = registered
    layout.repressed = {}
    try:
        text = layout.render_children(cite)
    except Exception:  # VariableError, or a citeproc-py bug the citation itself will report
        return ""
    return fixes.strip_marks(str(text)) if text is not None else ""


def _year_suffixes(setup: _Setup, order: list[str]) -> None:
    """Give ambiguous works their year-suffix (a `year-suffix` field of the prepared items)."""
    element = setup.style.root.citation
    if element is None or (element.get("disambiguate-add-year-suffix") or "").lower() != "true":
        return
    keys = [k.lower() for k in order]
    registered = bib._registered(setup.style, setup.prepared, keys, 0, len(keys))
    groups: dict[str, list[str]] = {}
    for key in keys:
        text = _alone(setup, registered, key)
        if text:
            groups.setdefault(text, []).append(key)
    for same in groups.values():
        if len(same) > 1:
            for number, key in enumerate(same):
                setup.by_lower[key]["year-suffix"] = _letters(number)


def _explicit_year_suffix(style) -> bool:
    return any("year-suffix" in (e.get("variable") or "").split() for e in style.root.iter()
               if isinstance(e.tag, str))


def _year_of(item, variable: str):
    try:
        value = item.reference[variable.replace("-", "_")]
    except VariableError:
        return None
    begin = value.get("begin", value) if isinstance(value, dict) else value
    try:
        return begin.year
    except (AttributeError, VariableError):
        return None


def _date_render(original):
    def render(self, item, *args, **kwargs):
        text = original(self, item, *args, **kwargs)
        if not text or kwargs.get("sort_options") or not isinstance(item, citeproc.CitationItem):
            return text
        if item.__dict__.get(_YEAR_SUFFIX_DONE):
            return text
        try:
            suffix = str(item.reference["year_suffix"])
        except VariableError:
            return text
        year = _year_of(item, (args[0] if args else None) or kwargs.get("variable") or self.get("variable") or "")
        if year is None:
            return text
        shown = str(text)
        for form in (str(abs(year)), str(year)[-2:]):
            at = shown.find(form)
            if at >= 0:
                item.__dict__[_YEAR_SUFFIX_DONE] = True
                return shown[:at + len(form)] + suffix + shown[at + len(form):]
        return text
    return render


@contextmanager
def _implicit_year_suffix(style):
    if _explicit_year_suffix(style):
        yield
        return
    with _LOCK:
        original = model.Date.__dict__.get("render")  # None: inherited, restored by deleting ours
        model.Date.render = _date_render(model.Date.render)
        try:
            yield
        finally:
            if original is None:
                del model.Date.render
            else:
                model.Date.render = original


# --- rendering -----------------------------------------------------------------------------------------

def _cite_item(cite: dict) -> citeproc.CitationItem:
    options = {}
    if cite.get("locator") not in (None, ""):
        label = str(cite.get("label") or "page").replace("_", "-")
        options["locator"] = citeproc.source.Locator(label, str(cite["locator"]))
    for key in ("prefix", "suffix"):
        if cite.get(key):
            options[key] = bib._rich(str(cite[key]))
    item = citeproc.CitationItem(str(cite["id"]), **options)
    if cite.get("author-only"):
        item.__dict__[_AUTHOR_REQUEST] = "only"
    elif cite.get("suppress-author"):
        item.__dict__[_AUTHOR_REQUEST] = "suppress"
    return item


def _render_cite(layout, cite, mode):
    """(the cite's output or None, the author it printed or None), with the author mode given."""
    layout.repressed = {}
    cite.__dict__.pop(_AUTHOR_TEXT, None)
    cite.__dict__.pop(_YEAR_SUFFIX_DONE, None)
    cite.__dict__[_AUTHOR_MODE] = mode
    try:
        text = layout.render_children(cite)
    except VariableError:
        text = None
    finally:
        cite.__dict__.pop(_AUTHOR_MODE, None)
    author = cite.__dict__.get(_AUTHOR_TEXT)
    return (None if text is None else str(text)), (None if author is None else str(author))


@dataclass
class _Piece:
    cite: citeproc.CitationItem
    text: str  # as printed, cite affixes included
    author: str | None  # the names it printed first (cite grouping compares them)
    plain: bool  # no locator, prefix or suffix: it may be collapsed


def _affixed(cite, text: str) -> str:
    return cite.get("prefix", "") + text + cite.get("suffix", "")


def _pieces(setup: _Setup, layout, cites) -> list[_Piece]:
    out = []
    for cite in cites:
        request = cite.__dict__.get(_AUTHOR_REQUEST)
        text, author = _render_cite(layout, cite, "suppress" if request == "suppress" else "only")
        if request == "only":
            text = author  # author-only: the author part alone
        if text is None:
            continue
        plain = not (cite.has_locator or cite.get("prefix") or cite.get("suffix"))
        out.append(_Piece(cite, _affixed(cite, text), author if request is None else None, plain))
    return out


def _join(texts: list[str], delimiters: list[str]) -> str:
    out = texts[0]
    for delimiter, text in zip(delimiters, texts[1:], strict=True):
        out += delimiter + text
    return out


def _number_runs(setup: _Setup, pieces: list[_Piece], delimiter: str, after: str) -> str:
    """collapse="citation-number": three or more consecutive numbers print as first–last."""
    texts, delimiters, run = [], [], []

    def flush():
        if len(run) >= 3:
            texts.append(run[0].text + "–" + run[-1].text)
            delimiters.append(after)
        else:
            for piece in run:
                texts.append(piece.text)
                delimiters.append(delimiter)
        run.clear()

    for piece in pieces:
        if piece.plain and run and piece.cite.number == run[-1].cite.number + 1:
            run.append(piece)
            continue
        flush()
        if piece.plain:
            run.append(piece)
        else:
            texts.append(piece.text)
            delimiters.append(delimiter)
    flush()
    return _join(texts, delimiters[:-1])


_MARK = "[\ue000-\ue1ff]*"


def _suffix_only(setup: _Setup, text: str, cite) -> tuple[str, str] | None:
    """(the cite without its year-suffix, the suffix as printed), or None when it has none."""
    suffix = setup.by_lower.get(cite.key, {}).get("year-suffix")
    if not suffix:
        return None
    found = re.search(f"(?<=\\d)({_MARK}{re.escape(suffix)}{_MARK})(?![a-z])", text)
    if found is None:
        return None
    return text[:found.start()] + text[found.end():], found.group(1)


def _grouped(setup: _Setup, layout, pieces: list[_Piece], collapse: str | None, delimiter: str) -> str:
    """Cite grouping (CSL 1.0.2): cites printing the same names move next to the first of them; with
    collapse="year" (or year-suffix) the names print once, and same years once with their suffixes."""
    element = setup.style.root.citation
    group_delimiter = element.get("cite-group-delimiter", ", ")
    after = element.get("after-collapse-delimiter", delimiter)
    # citeproc-js: an explicit cite-group-delimiter also separates the suffixes of one year
    suffix_delimiter = element.get("year-suffix-delimiter", element.get("cite-group-delimiter", delimiter))
    groups: dict[object, list[_Piece]] = {}
    for number, piece in enumerate(pieces):
        # cites printing no names at all group together; author-only and suppressed ones stay apart
        key = piece.author or ("" if piece.cite.__dict__.get(_AUTHOR_REQUEST) is None else ("alone", number))
        groups.setdefault(key, []).append(piece)
    texts, delimiters, previous_collapsed = [], [], False
    for members in groups.values():
        collapsed = collapse is not None and len(members) > 1
        last_year, last_letters = None, []  # the last cite's text without suffix, suffixes so far
        shown: list[_Piece] = []
        for index, piece in enumerate(members):
            text = bare = piece.text
            if collapse is not None:
                rendered, _author = _render_cite(layout, piece.cite, "suppress")
                bare = _affixed(piece.cite, rendered or "")
                if index:
                    if not rendered:
                        continue  # nothing left of it once the names are gone
                    text = bare
            split = _suffix_only(setup, bare, piece.cite) if collapse in ("year-suffix", "year-suffix-ranged") else None
            if shown and split and piece.plain and last_year is not None and split[0] == last_year:
                last_letters.append(split[1])
                texts[-1] = (texts[-1][0], last_letters[:])
                continue
            if shown:
                # after a cite with a locator, or after suffixes collapsed, comes after-collapse-delimiter
                ordinary = (shown[-1].plain and len(last_letters) < 2) or collapse is None
                delimiters.append(group_delimiter if ordinary else after)
            elif texts:
                delimiters.append(after if previous_collapsed else delimiter)
            shown.append(piece)
            texts.append((text, None))
            last_year = split[0] if split and piece.plain else None
            last_letters = [split[1]] if split and piece.plain else []
        previous_collapsed = collapsed
    out = []
    for text, letters in texts:
        if letters:  # the text ends in the first suffix; the others follow it
            runs = _letter_runs(letters, collapse == "year-suffix-ranged")
            text += runs[0][len(letters[0]):] + "".join(suffix_delimiter + run for run in runs[1:])
        out.append(text)
    return _join(out, delimiters)


def _rank(letters: str) -> int:
    """_letters' inverse: a -> 0, z -> 25, aa -> 26."""
    number = 0
    for char in fixes.strip_marks(letters):
        number = number * 26 + ord(char) - ord("a") + 1
    return number - 1


def _letter_runs(letters: list[str], ranged: bool) -> list[str]:
    """Year-suffixes as printed; with ranged, three or more consecutive ones as first–last."""
    if not ranged:
        return list(letters)
    runs, current = [], [letters[0]]
    for letter in letters[1:]:
        if _rank(letter) == _rank(current[-1]) + 1:
            current.append(letter)
        else:
            runs.append(current)
            current = [letter]
    runs.append(current)
    return [run[0] + "\u2013" + run[-1] if len(run) >= 3 else piece for run in runs
            for piece in ([run[0]] if len(run) >= 3 else run)]


def _render_cluster(setup: _Setup, registered, cluster) -> str:
    element = setup.style.root.citation
    layout = element.layout
    cites = [_cite_item(c) for c in cluster]
    citation = citeproc.Citation(cites)
    citation.bibliography = registered
    if element.sort is not None:
        cites = element.sort.sort(cites, layout)
    element.cites = registered._cites  # what position tests (ibid, subsequent) look back on
    pieces = _pieces(setup, layout, cites)
    element.cites.extend(p.cite for p in pieces)
    if not pieces:
        return ""
    delimiter = layout.get("delimiter", "")
    collapse = element.get("collapse")
    if collapse == "citation-number":
        joined = _number_runs(setup, pieces, delimiter, element.get("after-collapse-delimiter", delimiter))
    elif collapse in ("year", "year-suffix", "year-suffix-ranged") or element.get("cite-group-delimiter"):
        joined = _grouped(setup, layout, pieces, collapse if collapse in ("year", "year-suffix",
                                                                          "year-suffix-ranged") else None, delimiter)
    else:
        joined = delimiter.join(p.text for p in pieces)
    only = all(p.cite.__dict__.get(_AUTHOR_REQUEST) == "only" for p in pieces)
    # author-only cites stand alone: the layout's affixes and formatting belong to the full citation
    text = joined if only else str(layout.format(layout.wrap(joined)))
    text = fixes.single_periods(text)
    piq, close_quote, _open = bib._quote_terms(setup.style)
    if piq:
        text = fixes.punctuation_in_quote(text, "", close_quote)
    return text


def citations(items, clusters, report, *, style="apa", locale=None, format="text") -> list[str]:
    """One rendered citation per cluster of cite items ([] after an error)."""
    return citations_and_suffixes(items, clusters, report, style=style, locale=locale, format=format)[0]


def citations_and_suffixes(items, clusters, report, *, style="apa", locale=None,
                           format="text") -> tuple[list[str], dict[str, str]]:
    """citations(), and the year-suffixes they gave (id -> suffix) for a bibliography to print."""
    setup = _Setup(items, report, style, locale, format, need_citation=True)
    if not setup.ok:
        return [], {}
    checked = _check_clusters(clusters, report, setup.by_lower)
    if checked is None:
        return [], {}
    order = _order(setup, checked, report)
    out = []
    with warnings.catch_warnings(), fixes.patched(), _author_modes(), _implicit_year_suffix(setup.style):
        warnings.simplefilter("ignore")
        _year_suffixes(setup, order)
        registered = bib._registered(setup.style, setup.prepared, [k.lower() for k in order], 0, len(order))
        for number, cluster in enumerate(checked, 1):
            try:
                text = _render_cluster(setup, registered, cluster)
            except Exception as exc:  # citeproc-py bugs on odd data: name the cluster, never a traceback
                report.error("render-failed", f"{setup.name}: cannot render citation {number}: "
                             f"{type(exc).__name__}: {exc}", key=str(cluster[0]["id"]) if cluster else None)
                return [], {}
            out.append(setup.writer.inline(text))
    return out, {it["id"]: it["year-suffix"] for it in setup.prepared if it.get("year-suffix")}


@contextmanager
def year_suffix_rendering(style, locale=None):
    """While formats.bibliography.write renders (serially): year-suffixes given as items'
    `year-suffix` print after the first year when the style names no year-suffix variable."""
    path = bib.resolve_style(style)
    tag = bib._locale_tag(locale, bib.load_style(path))
    with _implicit_year_suffix(bib._processor_style(str(path.resolve()), path.stat().st_mtime, tag)):
        yield


def _html_entry(writer, entry) -> str:
    body = writer.inline(entry.body)
    if entry.label is not None:
        return (f'<div class="csl-entry"><div class="csl-left-margin">{writer.inline(entry.label)}</div>'
                f'<div class="csl-right-inline">{body}</div></div>')
    return f'<div class="csl-entry">{body}</div>'


def bibliography(items, report, *, style="apa", locale=None, format="text", clusters=None) -> list[str]:
    """The bibliography entries of items, in the style's order ([] after an error); with clusters,
    works are numbered in the order they are first cited, as citations() numbers them."""
    setup = _Setup(items, report, style, locale, format, need_citation=False)
    if not setup.ok:
        return []
    checked = _check_clusters(clusters or [], report, setup.by_lower)
    if checked is None:
        return []
    order = _order(setup, checked, report)
    with warnings.catch_warnings(), fixes.patched(), _implicit_year_suffix(setup.style):
        warnings.simplefilter("ignore")
        _year_suffixes(setup, order)
        entries, _cited, errors = bib._render_range(setup.path, setup.mtime, setup.tag, setup.prepared, order,
                                                    0, len(order), [])
    for key, message in errors:
        report.error("render-failed", f"{setup.name}: cannot render this item: {message}",
                     key=setup.by_lower.get(key, {}).get("id", key))
    if errors:
        return []
    if format == "html":
        return [_html_entry(setup.writer, e) for e in entries]
    return [setup.writer.entry(e) for e in entries]


def parse_clusters(text: str) -> list[list[dict]]:
    """`a,b;c` (the CLI's --cite): clusters split at `;`, their cite items at `,`."""
    clusters = [[{"id": key.strip()} for key in part.split(",") if key.strip()] for part in text.split(";")]
    return [c for c in clusters if c]


def cited_first(items: list, clusters, all_works: bool) -> list:
    """The works a bibliography under these citations lists: the cited ones in the order first
    cited, then (all_works) the others in input order."""
    rank = {key: n for n, key in enumerate(_first_cited(clusters))}
    cited = sorted((it for it in items if isinstance(it, dict) and str(it.get("id", "")).lower() in rank),
                   key=lambda it: rank[str(it["id"]).lower()])
    if not all_works:
        return cited
    return cited + [it for it in items if not (isinstance(it, dict) and str(it.get("id", "")).lower() in rank)]


def prepend(citations: list[str], body: str, output: str) -> str:
    """Citations above a rendered bibliography (formats.bibliography.write's output), in its markup."""
    if not citations:
        return body
    if output == "html":
        block = '<div class="csl-citations">\n' + "".join(f"<p>{c}</p>\n" for c in citations) + "</div>\n"
        at = body.find("<body>\n")
        return body[:at + 7] + block + body[at + 7:] if at >= 0 else block + body
    if output == "latex":
        block = "".join(c + "\n" for c in citations) + "\n"
        at = body.find("\\begin{document}\n")
        return body[:at + 17] + block + body[at + 17:] if at >= 0 else block + body
    separator = "\n" if output == "text" else "\n\n"
    return separator.join(citations) + "\n\n" + body
