"""BibTeX and biblatex reader and writer (format layer; the only importer of bibtexparser).

bibtexparser splits the file into blocks (run with no middleware, so values arrive raw); this module
evaluates values itself (`#`, @string macros, month macros), checks what bibtexparser accepts
silently, resolves crossref/xdata inheritance, and maps fields to CSL through mappings.bibtex.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import bibtexparser
from bibtexparser import model

from bibport import csl
from bibport.mappings import bibtex as table
from bibport.values import dates, keys, latex, names, pages

MAX_VALUE_CHARS = 1_000_000  # a macro-doubling bomb stops here, not at memory exhaustion
MAX_INHERITANCE_DEPTH = 64

_logger = logging.getLogger("bibtexparser")

# BibTeX itself predefines the month macros with English names.
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
PREDEFINED_MACROS = dict(zip(table.MONTH_MACROS, MONTH_NAMES, strict=True))

_BAD_KEY = re.compile(r"[\s,{}()\"#%'=\\]")
_LOOKS_LIKE_FIELDS = re.compile(r"^\s*[,}]|^\s*[A-Za-z][\w:-]*\s*=\s*[{\"0-9A-Za-z]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_URL_ESCAPES = re.compile(r"\\([_%&#$~])")
_SPACE = re.compile(r"\s+")
_IDENT = re.compile(r"[^\s#{}\",=()%']+")

# biblatex thesis/report `type` keys -> the words CSL prints as genre.
GENRE_KEYS = {
    "phdthesis": "PhD thesis", "mathesis": "Master's thesis", "candthesis": "Candidate thesis",
    "techreport": "Technical report", "resreport": "Research report", "software": "Computer software",
    "datacd": "CD-ROM", "audiocd": "Audio CD",
}
GENRE_TO_KEY = {genre.lower(): key for key, genre in GENRE_KEYS.items()}


# ---------------------------------------------------------------- raw entries


@dataclass
class RawEntry:
    key: str
    entry_type: str
    line: int                                                    # 1-based
    fields: dict[str, str] = field(default_factory=dict)         # evaluated LaTeX values
    field_lines: dict[str, int] = field(default_factory=dict)
    bad: bool = False                                            # an error was reported: skip it


class _Where:
    """Where a diagnostic points: source, line and entry key."""

    def __init__(self, report, source):
        self.report = report
        self.source = source

    def error(self, code, message, line=None, key=None):
        self.report.error(code, message, source=self.source, line=line, key=key)

    def warning(self, code, message, line=None, key=None):
        self.report.warning(code, message, source=self.source, line=line, key=key)


def _matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `{` at start, or -1 (BibTeX counts every brace)."""
    depth = 0
    for pos in range(start, len(text)):
        char = text[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return pos
    return -1


def _closing_quote(text: str, start: int) -> int:
    """Index of the `"` closing the quoted value opened at start (braces hide quotes), or -1."""
    depth = 0
    for pos in range(start + 1, len(text)):
        char = text[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0:
            return pos
    return -1


class ValueError_(Exception):
    """A field value that cannot be evaluated (reported, never raised out of read)."""

    def __init__(self, code, message, offset=0):
        super().__init__(message)
        self.code = code
        self.offset = offset


def evaluate(raw: str, macros: dict[str, str]) -> str:
    """Evaluate a raw BibTeX value: delimited strings, numbers and macros joined by `#`."""
    parts = []
    size = 0
    pos = 0
    end = len(raw)
    expect_term = True
    while True:
        while pos < end and raw[pos].isspace():
            pos += 1
        if pos >= end:
            break
        char = raw[pos]
        if not expect_term:
            if char != "#":
                rest = raw[pos:pos + 30]
                raise ValueError_("missing-comma",
                                  f"unexpected text after a value: {rest!r} (missing comma?)", pos)
            pos += 1
            expect_term = True
            continue
        if char == "{":
            close = _matching_brace(raw, pos)
            if close < 0:
                raise ValueError_("unbalanced-braces", "unbalanced braces in value")
            piece = raw[pos + 1:close]
            pos = close + 1
        elif char == '"':
            close = _closing_quote(raw, pos)
            if close < 0:
                raise ValueError_("unbalanced-quotes", "unterminated quoted value")
            piece = raw[pos + 1:close]
            pos = close + 1
        else:
            match = _IDENT.match(raw, pos)
            if not match:
                raise ValueError_("bad-value", f"unexpected character {char!r} in value")
            word = match.group()
            pos = match.end()
            if word.isdigit():
                piece = word
            else:
                name = word.lower()
                if name not in macros:
                    raise ValueError_("undefined-macro", f"undefined @string macro {word!r}")
                piece = macros[name]
        size += len(piece)
        if size > MAX_VALUE_CHARS:
            raise ValueError_("value-too-large",
                              f"value expands beyond {MAX_VALUE_CHARS:,} characters (@string bomb?)")
        parts.append(piece)
        expect_term = False
    if expect_term and parts:
        raise ValueError_("bad-value", "value ends with '#'")
    return "".join(parts)


def _block_key_guess(raw: str) -> str | None:
    match = re.match(r"\s*@\s*\w+\s*[{(]\s*([^,\s{}]*)", raw)
    return match.group(1) if match and match.group(1) else None


def _control_lines(text: str) -> list[int]:
    """1-based numbers of lines holding control characters."""
    bad = []
    for number, line in enumerate(text.split("\n"), start=1):
        if _CONTROL.search(line):
            bad.append(number)
    return bad


def parse_raw(text: str, where: _Where) -> list[RawEntry]:
    """Split text into evaluated raw entries, reporting every problem found."""
    if text.startswith("\ufeff"):
        text = text[1:]
    control_lines = _control_lines(text)
    previous_level = _logger.level
    _logger.setLevel(logging.CRITICAL)
    try:
        library = bibtexparser.parse_string(text, parse_stack=[])
    finally:
        _logger.setLevel(previous_level)

    macros = dict(PREDEFINED_MACROS)
    entries: list[RawEntry] = []
    first_by_key: dict[str, RawEntry] = {}
    duplicate_lines: dict[str, list[int]] = {}
    last_entry: RawEntry | None = None
    for block in library.blocks:
        line = block.start_line + 1
        if isinstance(block, model.String):
            try:
                value = evaluate(block.value, macros)
            except ValueError_ as problem:
                where.error(problem.code, f"@string {block.key}: {problem}", line=line)
                continue
            name = block.key.lower()
            if name in macros and name not in PREDEFINED_MACROS:
                where.warning("string-redefined", f"@string {block.key} redefined", line=line)
            macros[name] = value
        elif isinstance(block, model.Entry):
            last_entry = _raw_entry(block, macros, where)
            entries.append(last_entry)
            first_by_key.setdefault(last_entry.key, last_entry)
        elif isinstance(block, model.DuplicateBlockKeyBlock):
            duplicate_lines.setdefault(block.key, []).append(line)
            last_entry = None
        elif isinstance(block, model.DuplicateFieldKeyBlock):
            entry = block.ignore_error_block
            fields = sorted({f.key for f in entry.fields
                             if sum(g.key.lower() == f.key.lower() for g in entry.fields) > 1})
            where.error("duplicate-field", f"field given twice: {', '.join(fields)}",
                        line=line, key=entry.key)
            last_entry = None
        elif isinstance(block, model.ParsingFailedBlock):
            message = str(block.error).split("\n")[0] if block.error else "syntax error"
            message = re.sub(r"\(line \d+\)|on line \d+", "", message).strip()
            where.error("syntax", f"entry could not be parsed: {message}", line=line,
                        key=_block_key_guess(block.raw))
            last_entry = None
        elif isinstance(block, model.ImplicitComment):
            if _LOOKS_LIKE_FIELDS.search(block.comment):
                culprit = last_entry.key if last_entry else None
                where.error("stray-text",
                            "text outside any entry looks like fields: a stray '}' may have "
                            "closed the entry before it early", line=line, key=culprit)
                if last_entry:
                    last_entry.bad = True
            last_entry = None
        # @preamble and @comment stay out of the items.

    for key, lines in duplicate_lines.items():
        first = first_by_key.get(key)
        all_lines = ([first.line] if first else []) + lines
        where.error("duplicate-key",
                    f"key {key!r} is used {len(all_lines)} times, on lines "
                    f"{', '.join(map(str, all_lines))}", line=lines[0], key=key)

    if control_lines:
        _report_control_chars(entries, control_lines, text, where)
    return entries


def _report_control_chars(entries: list[RawEntry], bad_lines: list[int], text: str, where) -> None:
    """One error per line holding a control character, naming the entry it falls in (skipped)."""
    ordered = sorted(entries, key=lambda e: e.line)
    total = text.count("\n") + 1
    for number in bad_lines:
        owner = None
        for index, entry in enumerate(ordered):
            end = ordered[index + 1].line if index + 1 < len(ordered) else total + 1
            if entry.line <= number < end:
                owner = entry
                break
        if owner is not None:
            owner.bad = True
        where.error("control-char", "control character in input", line=number,
                    key=owner.key if owner else None)


def _raw_entry(block: model.Entry, macros: dict[str, str], where: _Where) -> RawEntry:
    entry = RawEntry(block.key, block.entry_type.lower(), block.start_line + 1)
    if not block.key or _BAD_KEY.search(block.key):
        where.error("bad-key", f"malformed entry key {block.key!r}", line=entry.line,
                    key=block.key or None)
        entry.bad = True
    for fld in block.fields:
        name = fld.key.lower()
        fline = fld.start_line + 1
        try:
            entry.fields[name] = evaluate(fld.value, macros)
        except ValueError_ as problem:
            line = fline + fld.value[:problem.offset].count("\n")
            where.error(problem.code, f"field {name}: {problem}", line=line, key=block.key)
            entry.bad = True
            continue
        entry.field_lines[name] = fline
    return entry


# ---------------------------------------------------------------- inheritance

_NOT_INHERITED = frozenset((
    "ids", "crossref", "xref", "xdata", "entryset", "entrysubtype", "execute", "label", "options",
    "presort", "related", "relatedoptions", "relatedstring", "relatedtype", "shorthand",
    "shorthandintro", "sortkey",
))

# biblatex's inheritance rules (manual, appendix B): (parent types, child types, parent field, child field)
_BOOKS = ("book", "mvbook")
_TITLE_RULES = (
    (("mvbook",), ("book", "inbook", "bookinbook", "suppbook"), "main"),
    (("mvcollection", "mvreference"), ("collection", "reference", "incollection", "inreference",
                                       "suppcollection"), "main"),
    (("mvproceedings",), ("proceedings", "inproceedings"), "main"),
    (("book",), ("inbook", "bookinbook", "suppbook"), "book"),
    (("collection", "reference"), ("incollection", "inreference", "suppcollection"), "book"),
    (("proceedings",), ("inproceedings",), "book"),
    (("periodical",), ("article", "suppperiodical"), "journal"),
)
_TITLE_FIELDS = {
    "main": (("title", "maintitle"), ("subtitle", "mainsubtitle"), ("titleaddon", "maintitleaddon")),
    "book": (("title", "booktitle"), ("subtitle", "booksubtitle"), ("titleaddon", "booktitleaddon")),
    "journal": (("title", "journaltitle"), ("subtitle", "journalsubtitle")),
}
_TITLE_LIKE = frozenset(("title", "subtitle", "titleaddon", "shorttitle", "sorttitle", "indextitle",
                         "indexsorttitle"))


def _inherited(parent: RawEntry, child_type: str) -> dict[str, str]:
    """The fields a child of `child_type` takes from parent, renamed per biblatex's rules."""
    out = {}
    renames = ()
    for parent_types, child_types, flavour in _TITLE_RULES:
        if parent.entry_type in parent_types and child_type in child_types:
            renames = _TITLE_FIELDS[flavour]
            break
    for source_field, target_field in renames:
        if source_field in parent.fields:
            out[target_field] = parent.fields[source_field]
    for name, value in parent.fields.items():
        if name in _NOT_INHERITED or (renames and name in _TITLE_LIKE):
            continue
        out.setdefault(name, value)
    return out


def resolve_inheritance(entries: list[RawEntry], where: _Where) -> None:
    """Fill each entry's missing fields from its xdata and crossref parents (nested, cycle-safe)."""
    by_key = {}
    for entry in entries:
        by_key.setdefault(entry.key, entry)
    resolved: set[str] = set()
    for entry in entries:
        # Resolve ancestors first, iteratively: collect the chain, then apply from the top down.
        chain, cursor, seen = [], entry, set()
        while cursor is not None and cursor.key not in resolved:
            if cursor.key in seen:
                for member in chain:
                    where.error("crossref-cycle", f"crossref/xdata chain loops back to {cursor.key!r}",
                                line=member.line, key=member.key)
                    member.bad = True
                    resolved.add(member.key)
                chain = []
                break
            if len(chain) >= MAX_INHERITANCE_DEPTH:
                where.error("crossref-depth", "crossref/xdata chain too deep", line=entry.line,
                            key=entry.key)
                entry.bad = True
                chain = []
                break
            seen.add(cursor.key)
            chain.append(cursor)
            cursor = _first_unresolved_parent(cursor, by_key, resolved)
        for member in reversed(chain):
            _inherit_into(member, by_key, where)
            resolved.add(member.key)


def _parent_keys(entry: RawEntry) -> list[tuple[str, str]]:
    parents = [("xdata", k.strip()) for k in entry.fields.get("xdata", "").split(",") if k.strip()]
    if entry.fields.get("crossref", "").strip():
        parents.append(("crossref", entry.fields["crossref"].strip()))
    return parents


def _first_unresolved_parent(entry, by_key, resolved):
    for _, parent_key in _parent_keys(entry):
        parent = by_key.get(parent_key)
        if parent is not None and parent.key not in resolved:
            return parent
    return None


def _inherit_into(entry: RawEntry, by_key: dict[str, RawEntry], where: _Where) -> None:
    for relation, parent_key in _parent_keys(entry):
        parent = by_key.get(parent_key)
        if parent is None:
            where.error("crossref-missing", f"{relation} parent {parent_key!r} is not in the input",
                        line=entry.field_lines.get(relation, entry.line), key=entry.key)
            entry.bad = True
            continue
        if parent.bad:
            where.error("crossref-bad-parent", f"{relation} parent {parent_key!r} has errors",
                        line=entry.field_lines.get(relation, entry.line), key=entry.key)
            entry.bad = True
            continue
        inherited = (dict(parent.fields) if relation == "xdata"
                     else _inherited(parent, entry.entry_type))
        for name, value in inherited.items():
            if name in _NOT_INHERITED:
                continue
            if name not in entry.fields:
                entry.fields[name] = value
                entry.field_lines[name] = entry.field_lines.get(relation, entry.line)


# ---------------------------------------------------------------- raw entry -> CSL item

_FIELD_ROWS: dict[str, list[table.FieldIn]] = {}
for _row in table.FIELDS_IN:
    _FIELD_ROWS.setdefault(_row.field, []).append(_row)
_JOINED = {part: whole for part, whole in table.JOINED_FIELDS}
_CONSUMED = frozenset((*table.CLASSIC_DATE_FIELDS, *table.STRUCTURAL_FIELDS, *_JOINED))


def _row_for(field_name: str, entry_type: str) -> table.FieldIn | None:
    for row in _FIELD_ROWS.get(field_name, ()):
        if not row.types or entry_type in row.types:
            return row
    return None


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _join_title(title: str, subtitle: str) -> str:
    return f"{title} {subtitle}" if title.rstrip().endswith(("?", "!", ":", ".")) else f"{title}: {subtitle}"


class _Converter:
    """Field value conversions for one entry, reporting warnings against it."""

    def __init__(self, where: _Where, entry: RawEntry):
        self.where = where
        self.entry = entry
        self.line = entry.line

    def warn(self, code, message):
        self.where.warning(code, message, line=self.line, key=self.entry.key)

    def rich(self, value):
        return latex.to_unicode(value, protect_case=True, warn=self.warn)

    def plain(self, value):
        return latex.to_unicode(value, protect_case=False, warn=self.warn)

    def convert(self, kind: str, value: str):
        if kind == table.RICH:
            return self.rich(value)
        if kind == table.PLAIN:
            return self.plain(value)
        if kind == table.VERBATIM:
            return _URL_ESCAPES.sub(r"\1", _collapse(value))
        if kind == table.DOI:
            bare = _URL_ESCAPES.sub(r"\1", _DOI_PREFIX.sub("", _collapse(value)))
            if _DOI_PREFIX.match(value):
                self.warn("doi-prefix", f"DOI written as a link; kept bare: {bare}")
            return bare
        if kind == table.PAGES:
            return pages.to_csl(_collapse(value))
        if kind == table.EDTF:
            try:
                return dates.parse_edtf(_collapse(value))
            except ValueError as problem:
                self.warn("bad-date", f"date {value!r} not understood ({problem}); kept as literal")
                return {"literal": self.plain(value)}
        if kind == table.LANG:
            text = self.plain(value)
            language = table.LANGUAGE_BY_NAME.get(text.lower())
            if language is None:
                self.warn("unknown-language", f"language {text!r} has no known BCP 47 tag; kept as is")
                return text
            return language.tag
        if kind == table.KEYWORDS:
            words = [self.plain(word) for word in re.split(r"[,;]", value)]
            return ", ".join(word for word in words if word)
        raise AssertionError(kind)


def _classic_date(entry: RawEntry, conv: _Converter):
    year = entry.fields.get("year")
    month = entry.fields.get("month")
    day = entry.fields.get("day")
    if year is None and month is None and day is None:
        return None
    if year is None:
        conv.warn("bad-date", "month or day without a year: kept in custom")
        return None
    try:
        return dates.from_bibtex(conv.plain(year), conv.plain(month) if month else None,
                                 conv.plain(day) if day else None)
    except ValueError as problem:
        conv.warn("bad-date", f"year/month/day not understood ({problem}); kept as literal")
        literal = " ".join(conv.plain(v) for v in (day, month, year) if v)
        return {"literal": literal}


def _csl_type(entry: RawEntry, conv: _Converter) -> tuple[str, str | None]:
    row = table.TYPE_IN.get(entry.entry_type)
    subtype = entry.fields.get("entrysubtype", "").strip().lower()
    if row is None:
        conv.warn("unknown-type", f"entry type @{entry.entry_type} has no CSL type; read as document")
        return "document", None
    csl_type = row.csl_type
    if entry.entry_type == "article" and subtype in table.SUBTYPE_IN:
        csl_type = table.SUBTYPE_IN[subtype]
    elif subtype in csl.TYPES and subtype in {r.subtype for r in table.TYPES_OUT}:
        csl_type = subtype
    if csl_type == "document" and "url" in entry.fields and not (
        {"publisher", "organization", "institution", "journal", "booktitle"} & entry.fields.keys()
        or ("howpublished" in entry.fields and "\\url" not in entry.fields["howpublished"])
    ):
        csl_type = "webpage"
    return csl_type, row.genre


def to_item(entry: RawEntry, where: _Where) -> dict:
    """Map one evaluated entry to a CSL item; unmapped fields go to custom, with a warning."""
    conv = _Converter(where, entry)
    csl_type, default_genre = _csl_type(entry, conv)
    item: dict = {"id": entry.key, "type": csl_type, "citation-key": entry.key}
    custom_fields: dict[str, str] = {}
    custom: dict = {}
    fields = dict(entry.fields)
    for part, whole in table.JOINED_FIELDS:
        if part in fields and whole in fields:
            fields[whole] = _join_title(fields[whole], fields[part])
        elif part in fields:
            custom_fields[part] = fields[part]
            conv.warn("unmapped-field", f"{part} without {whole}: kept in custom")
    howpublished = fields.get("howpublished", "")
    if "\\url" in howpublished and "url" not in fields:
        fields["url"] = re.sub(r"^.*?\\url\{([^}]*)\}.*$", r"\1", howpublished)
        del fields["howpublished"]

    for name, value in fields.items():
        if name in _CONSUMED:
            continue
        conv.line = entry.field_lines.get(name, entry.line)
        row = _row_for(name, entry.entry_type)
        if row is None:
            custom_fields[name] = value
            conv.warn("unmapped-field", f"field {name} has no CSL variable: kept in custom")
            continue
        if row.kind == table.NAMES:
            decoded, others = names.parse_names(value, conv.plain)
            converted = decoded
            if others:
                custom.setdefault(csl.CUSTOM_ET_AL, []).append(row.variable)
        else:
            converted = conv.convert(row.kind, value)
        if converted in ("", [], None):
            continue
        if row.variable in item:
            if item[row.variable] != converted:
                custom_fields[name] = value
                conv.warn("field-conflict",
                          f"{name} and another field both give {row.variable}: {name} kept in custom")
            continue
        item[row.variable] = converted
    conv.line = entry.line

    classic = _classic_date(entry, conv)
    if classic is not None:
        if "issued" in item and item["issued"] != classic:
            for name in table.CLASSIC_DATE_FIELDS:
                if name in entry.fields:
                    custom_fields[name] = entry.fields[name]
            conv.warn("field-conflict", "date and year/month disagree: year/month kept in custom")
        else:
            item.setdefault("issued", classic)
    elif "year" not in entry.fields:
        for name in ("month", "day"):
            if name in entry.fields:
                custom_fields[name] = entry.fields[name]
    if "crossref" in entry.fields:
        custom_fields["crossref"] = entry.fields["crossref"]
    if "xdata" in entry.fields:
        custom_fields["xdata"] = entry.fields["xdata"]
    subtype = entry.fields.get("entrysubtype")
    if subtype and subtype.strip().lower() not in ({r.subtype for r in table.TYPES_OUT} | table.SUBTYPE_IN.keys()):
        custom_fields["entrysubtype"] = subtype

    if "genre" in item:
        item["genre"] = GENRE_KEYS.get(item["genre"].lower(), item["genre"])
    elif default_genre:
        item["genre"] = default_genre
    if "event-title" in item:
        item["event"] = item["event-title"]  # citeproc-js/py and most styles still read `event`

    written_back = entry_type_for(item, table.BIBTEX), entry_type_for(item, table.BIBLATEX)
    if entry.entry_type not in written_back:
        custom[csl.CUSTOM_BIBTEX_TYPE] = entry.entry_type
    if custom_fields:
        custom[csl.CUSTOM_BIBTEX_FIELDS] = custom_fields
    if custom:
        item["custom"] = custom
    return csl.normalize(item)


def read(text: str, report, *, source: str | None = None) -> list[dict]:
    """Parse BibTeX/biblatex text into CSL items; bad entries are reported and skipped."""
    where = _Where(report, source)
    entries = parse_raw(text, where)
    citable = [e for e in entries if e.entry_type not in table.NON_CITABLE]
    resolve_inheritance(entries, where)
    seen: dict[str, RawEntry] = {}
    folded: dict[str, RawEntry] = {}
    named_collisions: set[str] = set()
    items = []
    for entry in citable:
        if entry.key in seen:
            continue  # a duplicate key is reported once by parse_raw
        seen[entry.key] = entry
        twin = folded.get(entry.key.lower())
        if twin is not None:
            for one, other in ((twin, entry), (entry, twin)):
                if one.key in named_collisions:
                    continue
                named_collisions.add(one.key)
                where.error("key-collision",
                            f"key {one.key!r} differs only in case from {other.key!r} (line {other.line}); "
                            "CSL processors would merge them", line=one.line, key=one.key)
            entry.bad = True
            twin.bad = True
            continue
        folded[entry.key.lower()] = entry
    for entry in seen.values():
        if entry.bad:
            continue
        items.append(to_item(entry, where))
    return items


# ---------------------------------------------------------------- writer

_OUT_ROWS: dict[str, list[table.FieldOut]] = {}
for _out in table.FIELDS_OUT:
    _OUT_ROWS.setdefault(_out.variable, []).append(_out)
_FIELD_RANK = {name: rank for rank, name in enumerate(table.FIELD_ORDER)}
_SKIPPED_VARIABLES = frozenset(("id", "citation-key", "type", "custom", "event"))


def entry_type_for(item: dict, dialect: str) -> str:
    """The entry type the writer uses for an item (an original type in custom wins)."""
    original = item.get("custom", {}).get(csl.CUSTOM_BIBTEX_TYPE)
    if original:
        return original
    row = table.TYPE_OUT.get(item.get("type"))
    if row is None:
        return table.FALLBACK_TYPE
    if dialect == table.BIBTEX and item.get("type") == "thesis":
        genre = item.get("genre", "").lower()
        return "mastersthesis" if genre in table.MASTERS_GENRES else "phdthesis"
    return getattr(row, dialect)


def _subtype_for(item: dict, entry_type: str) -> str | None:
    row = table.TYPE_OUT.get(item.get("type"))
    if row is None:
        return item.get("type")
    if row.subtype and entry_type in (table.FALLBACK_TYPE, "article", "incollection"):
        return row.subtype
    return None


def _default_genre(entry_type: str) -> str | None:
    row = table.TYPE_IN.get(entry_type)
    return row.genre if row else None


class _Encoder:
    def __init__(self, ascii_only: bool):
        self.ascii_only = ascii_only

    def __call__(self, text: str) -> str:
        return latex.from_unicode(text, ascii=self.ascii_only)


def _brace(value: str) -> str:
    return "{" + value + "}"


def _balanced(value: str) -> bool:
    depth = 0
    for char in value:
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return False
    return depth == 0


def _entry_fields(item: dict, dialect: str, entry_type: str, encode: _Encoder, warn) -> dict[str, str]:
    """Field name -> written value (already delimited) for one item."""
    out: dict[str, str] = {}
    csl_type = item.get("type")
    et_al = set(item.get("custom", {}).get(csl.CUSTOM_ET_AL, ()))
    for variable, value in item.items():
        if variable in _SKIPPED_VARIABLES:
            continue
        if variable == "issued" and dialect == table.BIBTEX:
            custom_fields = item.get("custom", {}).get(csl.CUSTOM_BIBTEX_FIELDS, {})
            if custom_fields.keys() & set(table.CLASSIC_DATE_FIELDS):
                out["date"] = _brace(dates.to_edtf(value))  # the file had both: keep both
            else:
                _classic_date_fields(value, out, warn)
            continue
        rows = _OUT_ROWS.get(variable)
        row = next((r for r in rows or () if not r.types or csl_type in r.types), None)
        name = getattr(row, dialect) if row else None
        if row is None or name is None:
            warn("unwritable-variable", f"{variable} has no {dialect} field: not written")
            continue
        if name in out:
            warn("unwritable-variable", f"{variable} would overwrite {name}: not written")
            continue
        text = _field_value(row.kind, variable, value, variable in et_al, encode, dialect)
        if text is None:
            continue
        if name == "type":
            if text == _brace(encode(_default_genre(entry_type) or "")):
                continue
            if dialect == table.BIBLATEX and value.lower() in GENRE_TO_KEY:
                text = _brace(GENRE_TO_KEY[value.lower()])
        out[name] = text
    subtype = _subtype_for(item, entry_type)
    if subtype and "entrysubtype" not in out and not item.get("custom", {}).get(csl.CUSTOM_BIBTEX_TYPE):
        out["entrysubtype"] = _brace(subtype)
    for name, raw in item.get("custom", {}).get(csl.CUSTOM_BIBTEX_FIELDS, {}).items():
        if name in out:
            warn("unwritable-variable", f"custom field {name} clashes with a mapped field: not written")
            continue
        out[name] = _brace(raw) if _balanced(raw) else _brace(raw.replace("{", "\\{").replace("}", "\\}"))
    if item.get("custom", {}).get(csl.CUSTOM_RIS_TAGS):
        warn("unwritable-variable", "RIS-only tags kept in custom have no BibTeX field: not written")
    return out


def _classic_date_fields(date: dict, out: dict, warn) -> None:
    year, month, day = dates.to_bibtex(date)
    if year is None:
        if date.get("literal") or date.get("raw"):
            out["year"] = _brace(latex.from_unicode(date.get("literal") or date.get("raw")))
        return
    out["year"] = _brace(year)
    if month:
        out["month"] = table.MONTH_MACROS[int(month) - 1]
    if day:
        out["day"] = _brace(day)
    if len(date.get("date-parts", ())) > 1 or date.get("circa") or date.get("season"):
        warn("lossy-date", "classic BibTeX has no ranges, seasons or circa: only the start year/month written")


def _field_value(kind, variable, value, others, encode: _Encoder, dialect) -> str | None:
    if kind == table.NAMES:
        return _brace(names.format_names(value, others, encode))
    if kind in (table.RICH, table.PLAIN):
        return _brace(encode(str(value)))
    if kind in (table.VERBATIM, table.DOI):
        text = str(value)
        return _brace(text if _balanced(text) else text.replace("{", "%7B").replace("}", "%7D"))
    if kind == table.PAGES:
        return _brace(pages.to_bibtex(str(value)))  # already LaTeX: `--` must stay a range dash
    if kind == table.EDTF:
        return _brace(dates.to_edtf(value))
    if kind == table.LANG:
        language = table.LANGUAGE_BY_TAG.get(str(value).lower()) or table.LANGUAGE_BY_NAME.get(str(value).lower())
        return _brace(language.babel if language else encode(str(value)))
    if kind == table.KEYWORDS:
        return _brace(encode(str(value)))
    raise AssertionError(kind)


def _format_entry(entry_type: str, key: str, fields: dict[str, str]) -> str:
    ordered = sorted(fields, key=lambda n: (_FIELD_RANK.get(n, len(_FIELD_RANK)), n))
    width = max((len(n) for n in ordered), default=0)
    lines = [f"@{entry_type}{{{key},"]
    lines += [f"  {name.ljust(width)} = {fields[name]}," for name in ordered]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(items, report, *, dialect: str = table.BIBTEX, ascii: bool | None = None, **_options) -> str:
    """Serialise items as canonical BibTeX (`dialect="bibtex"`) or biblatex."""
    if dialect not in table.DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    encode = _Encoder(dialect == table.BIBTEX if ascii is None else ascii)
    entry_keys = keys.assign_keys(items)
    chunks = []
    for item, key in zip(items, entry_keys, strict=True):
        def warn(code, message, _key=key):
            report.warning(code, message, key=_key)

        entry_type = entry_type_for(item, dialect)
        fields = _entry_fields(item, dialect, entry_type, encode, warn)
        if encode.ascii_only and any(not c.isascii() for v in fields.values() for c in v):
            warn("non-ascii", "characters with no LaTeX escape left as UTF-8")
        chunks.append(_format_entry(entry_type, key, fields))
    return "\n".join(chunks)
