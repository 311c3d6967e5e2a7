"""Markdown output read back by a real CommonMark parser (markdown-it-py): the visible text is the
plain-text rendering, data never makes structure, and escapes are only where CommonMark needs them."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import markdown_it
import pytest

from bibport import api
from bibport.diagnostics import Report
from bibport.formats import bibliography as bib

REFS = Path(__file__).resolve().parent.parent / "refs"
PARSER = markdown_it.MarkdownIt("commonmark")
HOSTILE = ["---", "- x", "    code", "1. x", "2020) x", "*a*", "_a_", "__a__", "[x](y)", "[x]: https://evil",
           "![x](y)", "<b>", "<script>x</script>", "<http://x.y>", "<a@b.cd>", "`x`", "\\", "\\*", "#", "# h",
           "> q", "~~~", "+ x", "=", "&amp; &#65; &copy;", "a_b snake_case", "Wow!", "x*y*z", "tab\tin",
           "A\nB", "A\r\nB", "A\n---", "A\n===", "A\n- x", "A\n    code", "A\n1. x", "A\n# h", "A\n> q",
           "A  \nB", "A\\\nB", "(NSDI 20) {x} |y| ~z~ ^w^ $m$ 1. + #"]
# What each CommonMark token may be in our output: blocks are entries (paragraphs, or list items
# for `1.` labels); inline only text, emphasis, our links and our <sup>/<sub>/<i>/<b>.
BLOCKS = {"paragraph_open", "paragraph_close", "inline", "ordered_list_open", "ordered_list_close",
          "list_item_open", "list_item_close"}
INLINE = {"text", "em_open", "em_close", "strong_open", "strong_close", "link_open", "link_close"}
HTML = {"<sup>", "</sup>", "<sub>", "</sub>", "<i>", "</i>", "<b>", "</b>"}


def _items(titles, kind="report"):
    # no author: APA starts the entry with the title, so data stands at the start of the line
    return [{"id": f"t{i}", "type": kind, "title": t, "issued": {"date-parts": [[2020]]}}
            for i, t in enumerate(titles)]


def _entries(markdown: str) -> list[tuple[str | None, str, list[str]]]:
    """(list number or None, visible text, link targets) per entry; asserts the token kinds."""
    out, numbers, targets = [], [], []
    for token in PARSER.parse(markdown):
        assert token.type in BLOCKS, f"{token.type} from {token.map and markdown.splitlines()[token.map[0]]!r}"
        if token.type == "ordered_list_open":
            numbers.append(int(token.attrGet("start") or 1))
        elif token.type == "list_item_open":
            numbers[-1] += 1
        elif token.type == "inline":
            text, targets = [], []
            for child in token.children:
                if child.type == "html_inline":
                    assert child.content in HTML, child.content
                    continue
                assert child.type in INLINE, f"{child.type} in {token.content!r}"
                if child.type == "link_open":
                    targets.append(child.attrGet("href"))
                text.append(child.content if child.type == "text" else "")
            number = f"{numbers[-1] - 1}." if numbers and token.level == 3 else None
            out.append((number, "".join(text), targets))
    return out


def _same_text(plain: str, shown: str) -> str:
    # whitespace is not a character a reader sees: a newline is a space, runs fold (as in HTML)
    return " ".join(plain.split()) == " ".join(shown.split())


def _check(items, style):
    report = Report()
    markdown = bib.write(copy.deepcopy(items), report, style=style, output="markdown", sort="none")
    plain = bib.entries(copy.deepcopy(items), Report(), style=style, sort="none")
    assert not report.errors, report.render()
    shown = _entries(markdown)
    assert len(shown) == len(plain), markdown
    for (key, text), (number, visible, targets) in zip(plain, shown, strict=True):
        visible = f"{number} {visible}" if number else visible
        assert _same_text(text, visible), f"{key}: {text!r} shown as {visible!r}\n{markdown}"
        item = next(it for it in items if it["id"] == key)
        expected = {f"https://doi.org/{item['DOI']}"} if item.get("DOI") else set()
        expected |= {item["URL"]} if item.get("URL") else set()
        assert set(targets) <= {PARSER.normalizeLink(t) for t in expected}, f"{key}: links {targets}"
    return markdown


@pytest.mark.parametrize("style", ["apa", "ieee", "vancouver", "reading-list"])
def test_hostile_titles_make_no_structure(style):
    _check(_items(HOSTILE), style)


@pytest.mark.parametrize("style", ["apa", "ieee"])
@pytest.mark.parametrize("kind", ["book", "article-journal"])  # italic titles, and plain ones
def test_hostile_titles_inside_emphasis(style, kind):
    items = _items(HOSTILE, kind)
    for item in items:
        item["container-title"] = item["title"]
    _check(items, style)


@pytest.mark.parametrize("style", ["apa", "ieee"])
@pytest.mark.parametrize("title", ["  Spaced title ", "<i> Spaced italic </i> end", "x<i>(y)</i>z",
                                   "<i>a</i><i>b</i>", "<i></i>empty"])
def test_rich_text_edges_stay_markup(title, style):
    # CommonMark prints `* x*` and `x*(y)*z` as they are: emphasis must sit where it can open and close
    _check(_items([title, title + " tail"]), style)


def test_links_keep_their_targets():
    items = [{"id": "u", "type": "webpage", "title": "T", "URL": "https://example.org/a\\*b_(c)",
              "issued": {"date-parts": [[2020]]}},
             {"id": "d", "type": "article-journal", "title": "T", "DOI": "10.1000/x_[1]",
              "container-title": "J", "issued": {"date-parts": [[2020]]}}]
    markdown = _check(items, "apa")
    links = [t for _, _, ts in _entries(markdown) for t in ts]
    assert PARSER.normalizeLink("https://example.org/a\\*b_(c)") in links  # `\*` in <...> is an escape
    assert PARSER.normalizeLink("https://doi.org/10.1000/x_[1]") in links


# Every escape that may appear: `\` before the characters CommonMark reads inside a line, or before
# block syntax at the start of a line (`1\.`). `\(`, `\#` mid-line, `\.` after a number mid-line: no.
NEEDED = re.compile(r"\\[\\`*_\[\]<&!]|^\\[#>+=~-]|^\d{1,9}\\[.)]", re.M)


@pytest.mark.parametrize("style", ["apa", "ieee", "vancouver", "chicago-author-date"])
def test_refs_read_back_as_rendered_with_only_needed_escapes(style):
    markdown = _check(api.load_refs(REFS), style)
    stray = [m.group() for m in re.finditer(r"\\.", NEEDED.sub("", markdown))]
    assert not stray, f"needless escapes: {sorted(set(stray))}"


def test_numbered_labels_are_an_ordered_list_only_when_consecutive():
    items = _items(["A", "B", "C"])
    markdown = bib.write(copy.deepcopy(items), Report(), style="vancouver", output="markdown", sort="none")
    assert markdown.startswith("1. A. 2020.\n\n2. B. 2020.")
    tokens = [t.type for t in PARSER.parse(markdown)]
    assert tokens.count("ordered_list_open") == 1 and tokens.count("list_item_open") == 3
    # numbers with a gap (a list would renumber them) stay paragraphs, the label escaped
    writer = bib.WRITERS["markdown"]()
    gap = [bib.Rendered(k, label, "Body", {}) for k, label in (("a", "1."), ("b", "3."))]
    assert writer.entries(gap) == ["1\\. Body", "3\\. Body"]


def test_group_heading_keeps_a_closing_hash():
    writer = bib.WRITERS["markdown"]()
    for heading in ("C #", "#", "Topic\n# two"):
        token = PARSER.parse(writer.heading(heading))
        assert [t.type for t in token] == ["heading_open", "inline", "heading_close"]
        assert " ".join(token[1].children[0].content.split()) == " ".join(heading.split())
