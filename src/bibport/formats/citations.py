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

import threading
import warnings
from contextlib import contextmanager

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
_LOCK = threading.RLock()


class _Setup:
    """A resolved style, its locale and the prepared items (or the error that stopped it)."""

    def __init__(self, items, report, style, locale, fmt, need_citation: bool):
        self.ok = False
        if fmt not in FORMATS:
            report.error("unknown-output", f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
            return
        try:
            path = bib.resolve_style(style)
            checked = bib.load_style(path)
            section = "citation" if need_citation else "bibliography"
            if checked.root.find(f"{{{bib.CSL_NS}}}{section}") is None:
                raise bib.StyleError(f"{path.name}: the style has no {section}")
            self.tag = bib._locale_tag(locale, checked)
            self.mtime = path.stat().st_mtime
            self.path = str(path.resolve())
            self.name = path.stem
            self.style = bib._processor_style(self.path, self.mtime, self.tag)
        except bib.StyleError as exc:
            report.error("unknown-style", str(exc))
            return
        except Exception as exc:  # citeproc rejecting a checked style
            report.error("unknown-style", f"{bib.Path(str(style)).name}: citeproc cannot load it "
                         f"({type(exc).__name__}: {exc})")
            return
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


def _render_cluster(setup: _Setup, registered, cluster) -> str:
    element = setup.style.root.citation
    layout = element.layout
    cites = [_cite_item(c) for c in cluster]
    citation = citeproc.Citation(cites)
    citation.bibliography = registered
    if element.sort is not None:
        cites = element.sort.sort(cites, layout)
    element.cites = registered._cites  # what position tests (ibid, subsequent) look back on
    out, only = [], bool(cites)
    for cite in cites:
        layout.repressed = {}
        mode = cite.__dict__.get(_AUTHOR_REQUEST)
        if mode:
            cite.__dict__[_AUTHOR_MODE] = mode
        try:
            text = layout.render_children(cite)
        except VariableError:
            text = None
        finally:
            cite.__dict__.pop(_AUTHOR_MODE, None)
        if mode == "only":
            text = cite.__dict__.get(_AUTHOR_TEXT)
        else:
            only = False
        if text is None:
            continue
        out.append(cite.get("prefix", "") + str(text) + cite.get("suffix", ""))
        element.cites.append(cite)
    if not out:
        return ""
    joined = citeproc.string.join(out, layout.get("delimiter", ""))
    # author-only cites stand alone: the layout's affixes and formatting belong to the full citation
    text = str(joined) if only else str(layout.format(layout.wrap(joined)))
    text = fixes.single_periods(text)
    piq, close_quote, _open = bib._quote_terms(setup.style)
    if piq:
        text = fixes.punctuation_in_quote(text, "", close_quote)
    return text


def citations(items, clusters, report, *, style="apa", locale=None, format="text") -> list[str]:
    """One rendered citation per cluster of cite items ([] after an error)."""
    setup = _Setup(items, report, style, locale, format, need_citation=True)
    if not setup.ok:
        return []
    checked = _check_clusters(clusters, report, setup.by_lower)
    if checked is None:
        return []
    order = _order(setup, checked, report)
    out = []
    with warnings.catch_warnings(), fixes.patched(), _author_modes():
        warnings.simplefilter("ignore")
        registered = bib._registered(setup.style, setup.prepared, [k.lower() for k in order], 0, len(order))
        for number, cluster in enumerate(checked, 1):
            try:
                text = _render_cluster(setup, registered, cluster)
            except Exception as exc:  # citeproc-py bugs on odd data: name the cluster, never a traceback
                report.error("render-failed", f"{setup.name}: cannot render citation {number}: "
                             f"{type(exc).__name__}: {exc}", key=str(cluster[0]["id"]) if cluster else None)
                return []
            out.append(setup.writer.inline(text))
    return out


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
