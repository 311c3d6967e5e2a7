"""`bibport check`: rule-coded findings on BibTeX/biblatex text (format layer: helper of formats.bibtex).

parse_raw already reports what makes an entry unreadable (syntax, duplicate keys and fields, stray
braces, undefined macros, control characters); this module adds the findings of mappings.lint on
entries that did parse. Pass one `Seen` to every call of a run so that keys and DOIs are compared
across files too.
"""

from __future__ import annotations

import copy
import datetime
import re
from dataclasses import dataclass, field

from bibport.diagnostics import Report
from bibport.formats import bibtex
from bibport.mappings import bibtex as table
from bibport.mappings import lint
from bibport.values import identifiers, keys, latex
from bibport.values.markup import strip_markup

_TEX_ESCAPE = re.compile(r"\\([_%&#$~{}])")
_URL_COMMAND = re.compile(r"\\url\{([^{}]*)\}")
_CONTROL_WORD = re.compile(r"\\(?:[A-Za-z]+|.)")
_WORD = re.compile(r"[^\W\d_]+")


@dataclass
class Seen:
    """Keys and DOIs met by earlier check() calls of one run: (source, line, key) by folded value."""

    keys: dict[str, tuple[str | None, int, str]] = field(default_factory=dict)
    dois: dict[str, tuple[str | None, int, str]] = field(default_factory=dict)


class _Findings:
    """Emits a rule's finding with the rule's severity."""

    def __init__(self, where: bibtex._Where):
        self.where = where

    def __call__(self, code: str, message: str, line: int, key: str | None) -> None:
        emit = self.where.error if lint.RULE_BY_CODE[code].severity == lint.ERROR else self.where.warning
        emit(code, message, line=line, key=key)


def _ignore(*_args, **_kwargs) -> None:
    pass


def _plain(value: str) -> str:
    return strip_markup(latex.to_unicode(value, protect_case=False, warn=_ignore))


def _verbatim(value: str) -> str:
    """A DOI/URL as written in BibTeX, its `\\_` escapes undone."""
    return _TEX_ESCAPE.sub(r"\1", " ".join(value.split()))


def _where_text(place: tuple[str | None, int, str]) -> str:
    source, line, key = place
    return f"{key} ({source or '<input>'}:{line})"


def _has(fields: dict[str, str], name: str) -> bool:
    return any(fields.get(alias, "").strip() for alias in (name, *lint.FIELD_ALIASES.get(name, ())))


def _spelled(name: str, names: list[str]) -> str:
    aliases = [alias for alias in lint.FIELD_ALIASES.get(name, ()) if alias not in names]
    return f"{name} (or {'/'.join(aliases)})" if aliases else name


def _check_fields(entry, fields: dict[str, str], find: _Findings) -> None:
    row = lint.REQUIREMENT_BY_TYPE.get(entry.entry_type)
    if row is None:
        if entry.entry_type not in lint.TYPES_WITHOUT_REQUIREMENTS:
            find("unknown-type", f"@{entry.entry_type} is not a BibTeX or biblatex entry type",
                 entry.line, entry.key)
        return
    for code, wanted, kind in (("missing-required", row.required, "required"),
                               ("missing-recommended", row.recommended, "recommended")):
        for requirement in wanted:
            names = requirement.split("/")
            if any(_has(fields, name) for name in names):
                continue
            spelled = " or ".join(_spelled(name, names) for name in names)
            find(code, f"@{entry.entry_type} without {spelled}, {kind} for this type", entry.line, entry.key)


def _check_doi(entry, value: str, line: int, find: _Findings) -> str | None:
    """Report DOI problems; the bare, lower-cased DOI for duplicate detection (None when unusable)."""
    doi = _verbatim(value)
    bare = identifiers.doi_link_prefix(doi)
    if bare is not None:
        find("doi-url-prefix", f"doi {doi!r} is a link: write the bare DOI {bare!r}", line, entry.key)
        doi = bare
    if not identifiers.is_doi(doi):
        find("doi-syntax", f"doi {doi!r} is not of the form 10.NNNN/suffix", line, entry.key)
        return None
    if doi.lower().startswith(lint.PLACEHOLDER_DOI_PREFIXES):
        find("doi-placeholder", f"doi {doi!r} is a placeholder, not a registered DOI: drop it",
             line, entry.key)
        return None
    return doi.lower()  # DOIs are case-insensitive


def _check_values(entry, find: _Findings, current_year: int) -> None:
    fields = entry.fields

    def line(name):
        return entry.field_lines.get(name, entry.line)

    for isbn in identifiers.split_isbns(fields.get("isbn", "")):
        if not identifiers.is_isbn(isbn):
            find("isbn-checksum", f"isbn {isbn!r} has a wrong length or check digit", line("isbn"), entry.key)
    for issn in re.split(r"[,;\s]+", fields.get("issn", "").strip()):
        if issn and not identifiers.is_issn(issn):
            find("issn-checksum", f"issn {issn!r} is not NNNN-NNNC with a valid check digit",
                 line("issn"), entry.key)
    urls = [("url", _verbatim(fields["url"]))] if "url" in fields else []
    urls += [("howpublished", _verbatim(u)) for u in _URL_COMMAND.findall(fields.get("howpublished", ""))]
    for name, url in urls:
        if not identifiers.is_url(url):
            find("url-syntax", f"{name} {url!r} is not an absolute http(s) URL", line(name), entry.key)
    if "pages" in fields:
        # raw, not decoded: the decoder turns `--` into an en dash
        problem = identifiers.page_problem(fields["pages"].replace("{", "").replace("}", ""))
        if problem:
            find("page-range", f"pages: {problem}", line("pages"), entry.key)
    if "year" in fields:
        problem = identifiers.year_problem(fields["year"].strip("{} "), current_year=current_year)
        if problem:
            find("year-implausible", problem, line("year"), entry.key)
    if "date" in fields:
        problem = identifiers.date_problem(fields["date"].strip("{} "), current_year=current_year)
        if problem:
            find("year-implausible", problem, line("date"), entry.key)
    if "month" in fields and not identifiers.is_month(fields["month"].strip("{} ")):
        find("month-invalid", f"month {fields['month']!r} is not 1..12 or an English month name",
             line("month"), entry.key)


def unprotected_words(value: str) -> list[str]:
    """Acronyms, mixed-case words and listed proper nouns of a LaTeX value outside any braces."""
    text = []
    depth = 0
    in_math = False
    pos = 0
    while pos < len(value):
        char = value[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and char == "$":
            in_math = not in_math
        elif depth == 0 and not in_math:
            if char == "\\":
                match = _CONTROL_WORD.match(value, pos)
                pos = match.end() if match else pos + 1
                text.append(" ")
                continue
            text.append(char)
            pos += 1
            continue
        text.append(" ")  # a brace or protected text ends the word
        pos += 1
    found = []
    for word in _WORD.findall("".join(text)):
        if (any(c.isupper() for c in word[1:]) or word in lint.PROPER_NOUNS) and word not in found:
            found.append(word)
    return found


def _check_titles(entry, find: _Findings) -> None:
    for name in lint.CASE_CHANGED_FIELDS:
        words = unprotected_words(entry.fields.get(name, ""))
        if words:
            listed = ", ".join(words)
            find("unprotected-acronym",
                 f"{name}: {listed} outside braces; styles may lowercase it (write {{{words[0]}}})",
                 entry.field_lines.get(name, entry.line), entry.key)


def guess_language(title: str) -> lint.LanguageCue | None:
    """The non-English language a (Unicode) title most looks like, or None."""
    text = title.lower()
    words = set(re.findall(r"\w+", text))
    best, best_score = None, 0
    for cue in lint.LANGUAGE_CUES:
        score = len(words & cue.words) + any(c in cue.letters for c in text)
        if score > best_score:
            best, best_score = cue, score
    return best if best_score >= lint.MIN_LANGUAGE_SCORE else None


def _check_language(entry, find: _Findings) -> None:
    title = " ".join(entry.fields.get(name, "") for name in ("title", "subtitle")).strip()
    if not title:
        return
    cue = guess_language(_plain(title))
    if cue is None:
        return
    declared = entry.fields.get("langid") or entry.fields.get("language")
    line = entry.field_lines.get("title", entry.line)
    if not declared:
        find("missing-langid", f"title looks {cue.name} but there is no langid: add langid = {{{cue.babel}}}",
             line, entry.key)
    elif _plain(declared).strip().lower() in lint.ENGLISH_LANGUAGES:
        find("missing-langid", f"title looks {cue.name} but langid says {declared}: "
             f"use langid = {{{cue.babel}}}", line, entry.key)


def _check_ascii(entry, find: _Findings) -> None:
    if not entry.key.isascii():
        find("non-ascii", f"key {entry.key!r} is not ASCII", entry.line, entry.key)
    for name, value in entry.fields.items():
        odd = next((c for c in value if not c.isascii()), None)
        if odd is not None:
            escape = latex.from_unicode(odd, ascii=True)
            hint = f": write {escape}" if escape.isascii() and escape != odd else ""
            find("non-ascii", f"{name} holds {odd!r} (U+{ord(odd):04X}){hint}",
                 entry.field_lines.get(name, entry.line), entry.key)


def _check_key(entry, item: dict | None, seen: Seen, source: str | None, find: _Findings) -> None:
    folded = entry.key.lower()
    earlier = seen.keys.get(folded)
    if earlier is not None and earlier[0] != source:
        if earlier[2] == entry.key:
            find("duplicate-key", f"key {entry.key!r} is also defined by {_where_text(earlier)}",
                 entry.line, entry.key)
        else:
            find("key-case-collision", f"key {entry.key!r} differs only in case from {_where_text(earlier)}",
                 entry.line, entry.key)
    elif earlier is not None and earlier[2] != entry.key:
        find("key-case-collision", f"key {entry.key!r} differs only in case from {_where_text(earlier)}",
             entry.line, entry.key)
    seen.keys.setdefault(folded, (source, entry.line, entry.key))
    if item is None:
        return
    expected = keys.make_key(item)
    # a letter suffix (smith2020a, smith2020b) is how two works with one base key are told apart
    if entry.key != expected and not re.fullmatch(re.escape(expected) + "[a-z]{1,2}", entry.key):
        find("key-convention", f"key {entry.key!r} is not familyYEARfirstword: expected {expected!r}",
             entry.line, entry.key)


def check(text: str, report, *, source: str | None = None, ascii_expected: bool = True,
          seen: Seen | None = None, current_year: int | None = None) -> int:
    """Lint BibTeX text into report; the number of entries checked."""
    where = bibtex._Where(report, source)
    find = _Findings(where)
    seen = seen if seen is not None else Seen()
    year = current_year or datetime.date.today().year
    entries = bibtex.parse_raw(text, where)

    # Inherited fields count for required fields; a scratch report keeps parse problems single.
    scratch = Report()
    resolved = copy.deepcopy(entries)
    bibtex.resolve_inheritance(resolved, bibtex._Where(scratch, source))
    items = {}
    for item in bibtex.read(text, scratch, source=source):
        items.setdefault(item["id"], item)
    for diagnostic in scratch.errors:  # found only by the full read: inheritance problems
        if diagnostic.code.startswith("crossref-"):  # case collisions: key-case-collision below
            report.diagnostics.append(diagnostic)

    checked = 0
    keys_here: set[str] = set()
    for entry, full in zip(entries, resolved, strict=True):
        if entry.bad or entry.key in keys_here:
            continue  # already reported as an error by parse_raw
        keys_here.add(entry.key)
        checked += 1
        citable = entry.entry_type not in table.NON_CITABLE
        if citable:
            _check_fields(entry, full.fields, find)
            _check_key(entry, items.get(entry.key), seen, source, find)
        _check_values(entry, find, year)
        if "doi" in entry.fields:
            doi = _check_doi(entry, entry.fields["doi"], entry.field_lines.get("doi", entry.line), find)
            if doi and citable:
                earlier = seen.dois.get(doi)
                if earlier is not None:
                    find("duplicate-doi", f"doi {doi} is also on {_where_text(earlier)}",
                         entry.field_lines.get("doi", entry.line), entry.key)
                else:
                    seen.dois[doi] = (source, entry.field_lines.get("doi", entry.line), entry.key)
        _check_titles(entry, find)
        if citable:
            _check_language(entry, find)
        if ascii_expected:
            _check_ascii(entry, find)
    return checked
