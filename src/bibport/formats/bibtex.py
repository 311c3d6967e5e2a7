"""BibTeX and biblatex reader and writer (format layer; the only importer of bibtexparser).

bibtexparser splits the file into blocks (run with no middleware, so values arrive raw); this module
evaluates values itself (`#`, @string macros, month macros), checks what bibtexparser accepts
silently, resolves crossref/xdata inheritance, and maps fields to CSL through mappings.bibtex.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from sys import intern

import bibtexparser
from bibtexparser import model

from bibport import csl, parallel
from bibport.diagnostics import Recorder
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
_CONTROL_BYTES = bytes((*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f))
_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_URL_ESCAPES = re.compile(r"\\([_%&#$~])")
_SPACE = re.compile(r"\s+")
_IDENT = re.compile(r"[^\s#{}\",=()%']+")
_BARE_WORD = re.compile(r"[^\s#{}\",=()%'0-9][^\s#{}\",=()%']*")  # a macro name alone

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
    bad: bool = False                                            # an error was reported: skip it
    text: str = field(default="", repr=False)                    # the whole source (shared, not copied)
    span: tuple[int, int] = (0, 0)                               # where this entry's block sits in text
    inherited: dict[str, str] | None = None                      # field -> the crossref/xdata field it came by
    _lines: dict[str, int] | None = field(default=None, repr=False)
    # fields whose value could not be evaluated (reported; set on bad entries only, so the others
    # carry no tuple of their own): checks that miss such a field stay quiet
    failed = ()

    @property
    def field_lines(self) -> dict[str, int]:
        """The line of each field, found in the block's text when first asked for: only entries
        with a diagnostic ever ask, and finding lines for every entry was a tenth of parsing.
        An inherited field points at the crossref/xdata field it came by."""
        if self._lines is None:
            inherited = self.inherited or {}
            own = [name for name in self.fields if name not in inherited]  # in block order
            lines = dict(zip(own, self.lines_of(own), strict=True))
            for name, relation in inherited.items():
                lines[name] = lines.get(relation, self.line)
            self._lines = lines
        return self._lines

    def lines_of(self, names: list[str]) -> list[int]:
        """The line of each of the named fields, searched in this order in the block's text."""
        start, end = self.span
        return _field_lines(self.text[start:end], self.line, names)

    def inherit(self, name: str, value: str, relation: str) -> None:
        self.fields[name] = value
        if self.inherited is None:
            self.inherited = {}
        self.inherited[name] = relation
        if self._lines is not None:
            self._lines[name] = self._lines.get(relation, self.line)


class _Where:
    """Where a diagnostic points: source, line and entry key."""

    def __init__(self, report, source):
        self.report = report
        self.source = source

    def error(self, code, message, line=None, key=None):
        self.report.error(code, message, source=self.source, line=line, key=key)

    def warning(self, code, message, line=None, key=None):
        self.report.warning(code, message, source=self.source, line=line, key=key)


_BRACE = re.compile(r"[{}]")
_QUOTE_OR_BRACE = re.compile(r'[{}"]')


def _matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `{` at start, or -1 (BibTeX counts every brace)."""
    depth = 0
    # The regex jumps between braces: a char loop here dominated reading.
    for match in _BRACE.finditer(text, start):
        if match.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return match.start()
    return -1


def _closing_quote(text: str, start: int) -> int:
    """Index of the `"` closing the quoted value opened at start (braces hide quotes), or -1;
    -2 when a `}` closes more than was opened (BibTeX: unbalanced braces)."""
    depth = 0
    for match in _QUOTE_OR_BRACE.finditer(text, start + 1):
        char = match.group()
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return -2
        elif depth == 0:
            return match.start()
    return -1


class ValueError_(Exception):
    """A field value that cannot be evaluated (reported, never raised out of read)."""

    def __init__(self, code, message, offset=0):
        super().__init__(message)
        self.code = code
        self.offset = offset


def _too_large() -> ValueError_:
    return ValueError_("value-too-large", f"value expands beyond {MAX_VALUE_CHARS:,} characters (@string bomb?)")


def _is_macro_name(raw: str) -> bool:
    return bool(_BARE_WORD.fullmatch(raw)) and not raw.isdigit()


def _macro(word: str, macros: dict[str, str]) -> str:
    value = macros.get(word.lower())  # BibTeX's macro names ignore case
    if value is None:
        raise ValueError_("undefined-macro", f"undefined @string macro {word!r}")
    return value


def evaluate(raw: str, macros: dict[str, str]) -> str:
    """Evaluate a raw BibTeX value: delimited strings, numbers and macros joined by `#`."""
    # Most values are one brace group, one plain quoted string or a number: no tokenizer for them.
    first = raw[:1]
    if first == "{" and raw[-1:] == "}":
        inner = raw[1:-1]
        # no brace inside: the first one closes at the end, no need to scan for it
        if ("{" not in inner and "}" not in inner) or _matching_brace(raw, 0) == len(raw) - 1:
            if len(inner) > MAX_VALUE_CHARS:
                raise _too_large()
            return inner
    elif first == '"' and raw[-1:] == '"' and len(raw) > 1:
        inner = raw[1:-1]
        if '"' not in inner and "{" not in inner and "}" not in inner and len(inner) <= MAX_VALUE_CHARS:
            return inner
    elif raw.isdigit() and raw.isascii() and len(raw) <= MAX_VALUE_CHARS:
        return raw
    elif _is_macro_name(raw):  # a lone macro name (`journal = ejor`)
        value = _macro(raw, macros)
        if len(value) > MAX_VALUE_CHARS:
            raise _too_large()
        return value
    return _evaluate_terms(raw, macros)


def _evaluate_terms(raw: str, macros: dict[str, str]) -> str:
    """evaluate(), term by term: what its shortcuts must agree with."""
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
            if close == -2:
                raise ValueError_("unbalanced-braces", "unbalanced braces in value", pos)
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
                piece = _macro(word, macros)
        size += len(piece)
        if size > MAX_VALUE_CHARS:
            raise _too_large()
        parts.append(piece)
        expect_term = False
    if expect_term and parts:
        raise ValueError_("bad-value", "value ends with '#'")
    return "".join(parts)


_ENTRY_OPENING = re.compile(r"^[ \t]*@\s*(\w+)\s*[{(]\s*([^,\s{}]+)\s*,", re.MULTILINE)
_NOT_ENTRIES = frozenset(("string", "preamble", "comment"))


def _block_key_guess(raw: str) -> str | None:
    match = re.match(r"\s*@\s*\w+\s*[{(]\s*([^,\s{}]*)", raw)
    return match.group(1) if match and match.group(1) else None


def _control_lines(text: str) -> list[int]:
    """1-based numbers of lines holding control characters."""
    # Clean files are the rule: deleting the control bytes from the UTF-8 text and comparing lengths
    # answers "any?" several times faster than the regex (no UTF-8 sequence holds a byte below 0x80).
    data = text.encode("utf-8", "surrogatepass")
    if len(data.translate(None, _CONTROL_BYTES)) == len(data):
        return []
    bad = []
    number, counted = 1, 0
    for match in _CONTROL.finditer(text):  # one pass over the text; clean files find nothing
        number += text.count("\n", counted, match.start())
        counted = match.start()
        if not bad or bad[-1] != number:
            bad.append(number)
    return bad


# ---------------------------------------------------------------- blocks (optionally in parallel)

# bibtexparser's blocks as plain tuples (cheap to send between processes), lines already 1-based:
#   (_STRING, line, key, raw value)
#   (_ENTRY, line, key, type, {field: value or raw}, (fields left raw, ...), (start, end) in the whole text)
#   field names lower-cased; the raw ones name a macro (or fail): only the reader can evaluate them
#   (_DUP_FIELDS, ...as _ENTRY (first values)..., (names given again, ...))
#   (_FAILED, line, message, key guess, ((line, key) swallowed, ...), line of the problem,
#    an _ENTRY or _DUP_FIELDS tuple of the fields read before the problem, all raw, or None)
#   (_STRAY, line)  an implicit comment that looks like fields
# Duplicate keys are marked after the chunks are joined, as bibtexparser's Library would.
_STRING, _ENTRY, _DUP_FIELDS, _FAILED, _STRAY = range(5)

CHUNK_CHARS = 128_000            # small jobs balance the processes; bibtexparser's objects die with each
PARALLEL_MIN_CHARS = 256_000     # below this, forking costs more than it saves
PARALLEL_MIN_ENTRIES = 500
ITEMS_PER_JOB = 250
_BLOCK_START = re.compile(r"\n(?=@\w*[ \t]*[{(])")
_INLINE_BLOCK_START = re.compile(r"\s@\w+[ \t]*[{(]")
_AT_GAP = re.compile(r"^([ \t]*@)[ \t]+(?=[A-Za-z][\w-]*[ \t]*[{(])", re.MULTILINE)
_AT_GAP_HINT = re.compile(r"@[ \t]")  # a literal-led search: ~15x faster than _AT_GAP on files without gaps


class _LineCounter:
    """1-based line of each block, found by its raw text, in order (newlines counted once)."""

    def __init__(self, text: str, line_offset: int):
        self.text = text
        self.cursor = 0        # where the next block's search starts
        self.counted = 0       # newlines counted up to position `self.counted_to`
        self.counted_to = 0
        self.offset = line_offset

    def of_block(self, raw: str, fallback: int) -> tuple[int, int]:
        """(line, offset in text) of the block whose raw text is raw (offset -1: not found)."""
        pos = self.text.find(raw, self.cursor) if raw else -1
        if pos < 0:
            return fallback, -1
        self.counted += self.text.count("\n", self.counted_to, pos)
        self.counted_to = pos
        self.cursor = pos + len(raw)
        return self.offset + self.counted + 1, pos


_OPENER = re.compile(r"\s*@\s*\w+\s*[{(]")
_FIELD_NAME = re.compile(r"[^\s\"#%'(),={}0-9][^\s\"#%'(),={}]*")  # BibTeX's identifier
_BLANKS = re.compile(r"\s*")


def scan_fields(raw: str) -> tuple[list[tuple[str, int]], tuple[int, str] | None]:
    """Each field of an entry's raw text as (name as written, offset of the name), in order, and
    the first place BibTeX would stop at, as (offset, message), or None."""
    # The lines of field-level diagnostics come from here (a value holding `year =` is skipped, not
    # taken for the field), and so does the line of an entry that bibtexparser could not parse.
    fields: list[tuple[str, int]] = []
    problems: list[tuple[int, str]] = []
    _scan_into(raw, fields, problems, [])
    return fields, problems[0] if problems else None


def _scan_into(raw: str, fields: list, problems: list, values: list) -> None:
    """scan_fields' reading; values gets the (start, end) of each value read to its end."""
    opener = _OPENER.match(raw)
    pos = raw.find(",", opener.end()) + 1 if opener else 0
    if pos == 0:
        return  # `@misc{key}`: no fields
    end = len(raw)
    while True:
        pos = _BLANKS.match(raw, pos).end()
        if pos >= end:
            problems.append((fields[-1][1], f"entry not closed after field {fields[-1][0]}") if fields
                            else (end, "entry not closed"))
            return
        if raw[pos] in "})":
            return
        name = _FIELD_NAME.match(raw, pos)
        if name is None:  # BibTeX: "You're missing a field name"
            what = "a value" if raw[pos] in '{"' or raw[pos].isdigit() else repr(raw[pos])
            problems.append((pos, f"{what} where a field name should be (missing 'name =')"))
            return
        written, start = name.group(), pos
        fields.append((written, start))
        pos = _BLANKS.match(raw, name.end()).end()
        if raw[pos:pos + 1] != "=":
            problems.append((pos, f"no '=' after field name {written}"))
            return
        value_start = _BLANKS.match(raw, pos + 1).end()
        while True:  # terms joined by '#'
            pos = _BLANKS.match(raw, pos + 1).end()
            char = raw[pos:pos + 1]
            if char == "{":
                close = _matching_brace(raw, pos)
            elif char == '"':
                close = _closing_quote(raw, pos)
                if close == -2:  # a `}` too many inside quotes: BibTeX stops, bibtexparser reads on
                    problems.append((start, f"unbalanced braces in the value of {written}"))
                    close = raw.find('"', pos + 1)
            else:
                word = _IDENT.match(raw, pos)
                if word is None:
                    problems.append((pos, f"field {written} has no value"))
                    return
                close = word.end() - 1
            if close < 0:
                problems.append((start, f"the value of {written} is not closed (unbalanced braces or quotes)"))
                return
            pos = _BLANKS.match(raw, close + 1).end()
            if raw[pos:pos + 1] != "#":
                values.append((value_start, close + 1))
                break
        if pos >= end:
            problems.append((start, f"entry not closed after field {written} (an unbalanced brace in it?)"))
            return
        if raw[pos] in "})":
            return
        if raw[pos] != ",":
            problems.append((pos, f"expected ',' or '}}' after the value of {written}"))
            return
        pos += 1


def _line_at(raw: str, line: int, offset: int) -> int:
    return line + raw.count("\n", 0, offset)


def _field_lines(raw: str, line: int, names: list[str]) -> list[int]:
    """The line of each named field (lower-cased, in block order) in a block's raw text starting at
    line; a name not found gets the line of the field before it."""
    scanned, _ = scan_fields(raw)
    out, cursor, last = [], 0, line
    for name in names:
        for index in range(cursor, len(scanned)):
            written, offset = scanned[index]
            if written.lower() == name:
                last = _line_at(raw, line, offset)
                cursor = index + 1
                break
        out.append(last)
    return out


def _blocks_of(text: str, line_offset: int = 0, char_offset: int = 0) -> list[tuple]:
    """Parse text with bibtexparser (no middleware) into block tuples; text starts at line_offset + 1
    and at char_offset of the whole source."""
    previous_level = _logger.level
    _logger.setLevel(logging.CRITICAL)
    try:
        library = bibtexparser.parse_string(text, parse_stack=[])
    finally:
        _logger.setLevel(previous_level)
    out: list[tuple] = []
    lines = _LineCounter(text, line_offset)
    for block in library.blocks:
        if isinstance(block, model.DuplicateBlockKeyBlock):
            block = block.ignore_error_block  # re-marked once all chunks are joined
        # bibtexparser's own line counts drift in long files: find the block in the text instead
        line, pos = lines.of_block(block.raw, block.start_line + 1 + line_offset)
        if isinstance(block, model.String):
            out.append((_STRING, line, block.key, block.value))
        elif isinstance(block, model.Entry):
            out.append(_entry_tuple(block, line, pos, char_offset))
        elif isinstance(block, model.DuplicateFieldKeyBlock):
            out.append(_entry_tuple(block.ignore_error_block, line, pos, char_offset))
        elif isinstance(block, model.ParsingFailedBlock):
            message = str(block.error).split("\n")[0] if block.error else ""
            message = re.sub(r"\(line \d+\)|on line \d+", "", message).strip(" :.") or "syntax error"
            # entries that an unclosed value swallowed: named too, so none vanishes unreported
            swallowed = tuple((line + block.raw.count("\n", 0, m.start()), m.group(2))
                              for m in _ENTRY_OPENING.finditer(block.raw)
                              if m.start() > 0 and m.group(1).lower() not in _NOT_ENTRIES)
            # Where BibTeX would stop, found by reading the entry as it does, up to the next entry
            # (bibtexparser's raw ends where it gave up); else the entry's line.
            key = _block_key_guess(block.raw)
            if pos < 0:
                out.append((_FAILED, line, message, key, swallowed, line, None))
                continue
            after = _BLOCK_START.search(text, pos + len(block.raw))
            raw = text[pos:after.start() if after else len(text)]
            names, problems, values = [], [], []
            _scan_into(raw, names, problems, values)
            problem_line = line
            if problems:
                problem_line, message = _line_at(raw, line, problems[0][0]), problems[0][1]
            so_far = _read_so_far(raw, line, key, names, values, char_offset + pos)
            out.append((_FAILED, line, message, key, swallowed, problem_line, so_far))
        elif isinstance(block, model.ImplicitComment):
            if _LOOKS_LIKE_FIELDS.search(block.comment):
                out.append((_STRAY, line))
        # @preamble and @comment stay out of the items.
    return out


_ENTRY_TYPE = re.compile(r"\s*@\s*(\w+)\s*[{(]")


def _read_so_far(raw: str, line: int, key: str | None, names: list, values: list, start: int) -> tuple | None:
    """The entry tuple of the fields read before the problem (BibTeX keeps them), all left raw for
    the reader to evaluate: the entry is left out, but its other problems are told."""
    kind = _ENTRY_TYPE.match(raw)
    if not key or kind is None or kind.group(1).lower() in _NOT_ENTRIES:
        return None
    fields: dict[str, str] = {}
    repeated = []
    # zip stops before a field whose value could not be read
    for (written, _), (value_start, value_end) in zip(names, values, strict=False):
        name = intern(written.lower())
        if name in fields:
            repeated.append(name)
            continue
        fields[name] = raw[value_start:value_end]
    entry = (line, key, intern(kind.group(1)), fields, tuple(fields), (start, start + len(raw)))
    if repeated:
        return (_DUP_FIELDS, *entry, tuple(dict.fromkeys(repeated)))
    return (_ENTRY, *entry)


def _entry_tuple(block: model.Entry, line: int, pos: int, char_offset: int) -> tuple:
    """An _ENTRY tuple, or a _DUP_FIELDS one when a field is given twice (BibTeX keeps the first)."""
    # Each value once: evaluated, or raw when it names a macro (so the pickle stays small).
    fields: dict[str, str] = {}
    raw_names = []
    repeated = []
    for f in block.fields:
        name = intern(f.key.lower())  # one object per field name: pickled once per chunk
        if name in fields:  # `Title` and `title` too: BibTeX's field names ignore case
            repeated.append(name)
            continue
        value = _macro_free(f.value)
        if value is None:
            value = f.value
            raw_names.append(name)
        fields[name] = value
    span = (char_offset + pos, char_offset + pos + len(block.raw)) if pos >= 0 else (0, 0)
    entry = (line, block.key, intern(block.entry_type), fields, tuple(raw_names), span)
    if repeated:
        return (_DUP_FIELDS, *entry, tuple(dict.fromkeys(repeated)))
    return (_ENTRY, *entry)


def _macro_free(raw: str) -> str | None:
    """The value of raw when it names no macro (so it evaluates here, in the parsing process), else None."""
    if _is_macro_name(raw):
        return None  # a lone macro name, the usual case (`month = jan`): no exception raised for it
    try:
        return evaluate(raw, _NO_MACROS)
    except ValueError_:
        return None  # a macro or an error: the reader evaluates it in order and reports it


_NO_MACROS: dict[str, str] = {}


def _split_points(text: str, parts: int) -> list[int]:
    """Offsets of line-start block openings near equal shares of text (bibtexparser always begins a
    new block at one, even inside a broken entry, so each share parses as it would in place).
    Past the last line-start opening (a whole file on one line), an opening after a blank is taken:
    if that cut an entry open, the share before it ends in a failed block and _blocks parses the
    two as one, so the blocks are the same, but a one-line file is not parsed in one piece."""
    points = [0]
    line_starts = True  # False once none is left: a one-line file is not rescanned per share
    for share in range(1, parts):
        start = max(len(text) * share // parts, points[-1])
        match = _BLOCK_START.search(text, start) if line_starts else None
        if match is not None:
            point = match.end()
        else:
            line_starts = False
            match = _INLINE_BLOCK_START.search(text, start)
            if match is None:
                break
            point = match.start() + 1
        if point > points[-1]:
            points.append(point)
    return points


def _blocks(text: str, tick=lambda done, total: None):
    """Yield block tuples for text; large text is parsed in chunks (bibtexparser's objects for one
    chunk are freed before the next), spread over processes. tick(characters done, total) follows."""
    procs = min(parallel.cores(), len(text) // (PARALLEL_MIN_CHARS // 2)) if parallel.can_fork() else 1
    procs = max(procs, 1)
    parts = max(procs, -(-len(text) // CHUNK_CHARS))
    if parts < 2:
        yield from _blocks_of(text)
        return
    points = _split_points(text, parts)
    ranges, line = [], 0
    for start, end in zip(points, points[1:] + [len(text)], strict=True):
        ranges.append((start, end, line))
        line += text.count("\n", start, end)
    jobs = [(text, start, end, offset) for start, end, offset in ranges]
    pending = None  # (range, blocks) held back until we know how the chunk after it starts
    parsed = parallel.ordered_map(_chunk_blocks, jobs, min(procs, len(jobs)))
    for (start, end, offset), chunk in zip(ranges, parsed, strict=True):
        tick(start, len(text))
        if pending is not None:
            (first, _, first_offset), previous = pending
            if previous and previous[-1][0] == _FAILED:
                # The split may have cut that failed block short: parse both chunks as one.
                pending = ((first, end, first_offset), _blocks_of(text[first:end], first_offset, first))
                continue
            yield from previous
        pending = ((start, end, offset), chunk)
    yield from pending[1]
    tick(len(text), len(text))


def _chunk_blocks(text: str, start: int, end: int, offset: int) -> list[tuple]:
    return _blocks_of(text[start:end], offset, start)


def parse_raw(text: str, where: _Where) -> list[RawEntry]:
    """Split text into evaluated raw entries, reporting every problem found."""
    if text.startswith("\ufeff"):
        text = text[1:]
    # BibTeX allows blanks between @ and the entry type; bibtexparser would take the entry for a
    # comment and drop it unseen. Closing the gap changes no line number.
    if _AT_GAP_HINT.search(text):
        text = _AT_GAP.sub(r"\1", text)
    control_lines = _control_lines(text)

    macros = dict(PREDEFINED_MACROS)
    entries: list[RawEntry] = []
    first_by_key: dict[str, RawEntry] = {}
    duplicate_lines: dict[str, list[int]] = {}
    entry_keys: set[str] = set()
    string_keys: dict[str, int] = {}  # @string key -> line of its first definition
    duplicate_string_lines: dict[str, list[int]] = {}
    last_entry: RawEntry | None = None
    unreadable_entries: list[RawEntry] = []
    report = where.report
    for block in _blocks(text, lambda done, total: report.tick("reading", done, total)):
        kind, line = block[0], block[1]
        if kind == _STRING:
            key = block[2]
            if key in string_keys:  # bibtexparser's duplicate-key rule: same case-sensitive key
                duplicate_string_lines.setdefault(key, [string_keys[key]]).append(line)
                last_entry = None
                continue
            string_keys[key] = line
            try:
                value = evaluate(block[3], macros)
            except ValueError_ as problem:
                where.error(problem.code, f"@string {key}: {problem}", line=line)
                continue
            name = key.lower()
            if name in macros and name not in PREDEFINED_MACROS:
                where.warning("string-redefined", f"@string {key} redefined", line=line)
            macros[name] = value
        elif kind in (_ENTRY, _DUP_FIELDS):
            key = block[2]
            if key in entry_keys:
                duplicate_lines.setdefault(key, []).append(line)
                last_entry = None
                continue
            entry_keys.add(key)
            last_entry = _raw_entry(block[:7], macros, where, text)
            if kind == _DUP_FIELDS:
                _report_repeats(last_entry, block[7], where)
            entries.append(last_entry)
            first_by_key.setdefault(last_entry.key, last_entry)
        elif kind == _FAILED:
            where.error("syntax", f"entry could not be parsed: {block[2]}", line=block[5], key=block[3])
            for inner_line, inner_key in block[4]:
                where.error("syntax", f"entry swallowed by the unclosed entry on line {line}",
                            line=inner_line, key=inner_key)
            last_entry = None
            if block[6] is not None:  # the fields before the problem, checked too, then left out
                unreadable = _raw_entry(block[6][:7], macros, where, text)
                if block[6][0] == _DUP_FIELDS:
                    _report_repeats(unreadable, block[6][7], where)
                unreadable.bad = True
                entries.append(unreadable)
                unreadable_entries.append(unreadable)
        elif kind == _STRAY:
            culprit = last_entry.key if last_entry else None
            where.error("stray-text",
                        "text outside any entry looks like fields: a stray '}' may have "
                        "closed the entry before it early", line=line, key=culprit)
            if last_entry:
                last_entry.bad = True
            last_entry = None

    if unreadable_entries:
        # Another entry with the key (or its case twin) is the one read: the broken one gives way
        # rather than make it a duplicate or a collision.
        unreadable = {id(entry) for entry in unreadable_entries}
        taken = {entry.key.lower() for entry in entries if id(entry) not in unreadable}
        gone = {id(entry) for entry in unreadable_entries if entry.key.lower() in taken}
        entries = [entry for entry in entries if id(entry) not in gone]

    for key, lines in duplicate_lines.items():
        first = first_by_key.get(key)
        all_lines = ([first.line] if first else []) + lines
        where.error("duplicate-key",
                    f"key {key!r} is used {len(all_lines)} times, on lines "
                    f"{', '.join(map(str, all_lines))}", line=lines[0], key=key)
    for key, lines in duplicate_string_lines.items():
        where.error("duplicate-key", f"@string {key!r} is defined {len(lines)} times, on lines "
                    f"{', '.join(map(str, lines))}; the first definition is used", line=lines[1])

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


def _report_repeats(entry: RawEntry, repeated: tuple[str, ...], where: _Where) -> None:
    """One error per field given again, at its line, naming the line of the first (the entry's
    other problems are still looked for: it is converted, then left out)."""
    start, end = entry.span
    raw = entry.text[start:end]
    scanned, _ = scan_fields(raw)
    for name in repeated:
        occurrences = [(written, _line_at(raw, entry.line, offset))
                       for written, offset in scanned if written.lower() == name]
        if len(occurrences) < 2:  # the block could not be read again: say it at the entry
            where.error("duplicate-field", f"field {name} given more than once", line=entry.line,
                        key=entry.key)
            continue
        first, first_line = occurrences[0]
        for written, line in occurrences[1:]:
            as_written = "" if written == first else f" as {first}"
            where.error("duplicate-field", f"field {written} given again (first{as_written} on line "
                        f"{first_line})", line=line, key=entry.key)
    entry.bad = True


def _raw_entry(block: tuple, macros: dict[str, str], where: _Where, text: str) -> RawEntry:
    _, line, key, entry_type, fields, raw_names, span = block
    entry = RawEntry(key, entry_type.lower(), line, fields, text=text, span=span)
    if not key or _BAD_KEY.search(key):
        where.error("bad-key", f"malformed entry key {key!r}", line=entry.line, key=key or None)
        entry.bad = True
    failed = []
    for name in raw_names:
        raw = fields[name]
        try:
            fields[name] = evaluate(raw, macros)  # in place: the fields keep the block's order
        except ValueError_ as problem:
            names = list(fields)  # every field of the block, failed ones too: searched in order
            field_line = entry.lines_of(names)[names.index(name)]
            where.error(problem.code, f"field {name}: {problem}",
                        line=field_line + raw[:problem.offset].count("\n"), key=key)
            entry.bad = True
            failed.append(name)
    for name in failed:
        del fields[name]
    if failed:
        entry.failed = tuple(failed)
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
        if "crossref" not in entry.fields and "xdata" not in entry.fields:
            resolved.add(entry.key)  # no parents: nothing to inherit (most entries)
            continue
        # Resolve ancestors first, iteratively: collect the chain, then apply from the top down.
        chain, cursor, seen = [], entry, set()
        while cursor is not None and cursor.key not in resolved:
            if cursor.key in seen:
                for index, member in enumerate(chain):
                    parent = chain[index + 1] if index + 1 < len(chain) else cursor
                    where.error("crossref-cycle", f"crossref/xdata chain loops back to {cursor.key!r}",
                                line=_relation_line(member, parent.key), key=member.key)
                    member.bad = True
                    resolved.add(member.key)
                chain = []
                break
            if len(chain) >= MAX_INHERITANCE_DEPTH:
                where.error("crossref-depth", "crossref/xdata chain too deep",
                            line=_relation_line(entry, chain[1].key), key=entry.key)
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


def _relation_line(entry: RawEntry, parent_key: str) -> int:
    """The line of entry's crossref or xdata field naming parent_key (the entry's line if none)."""
    for relation, key in _parent_keys(entry):
        if key == parent_key:
            return entry.field_lines.get(relation, entry.line)
    return entry.line


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
                entry.inherit(name, value, relation)


# ---------------------------------------------------------------- raw entry -> CSL item

_FIELD_ROWS: dict[str, list[table.FieldIn]] = {}
for _row in table.FIELDS_IN:
    _FIELD_ROWS.setdefault(_row.field, []).append(_row)
_JOINED = {part: whole for part, whole in table.JOINED_FIELDS}
_MORE_URL = re.compile(re.escape(table.MORE_URL_FIELD.format("")) + r"([2-9]|[1-9][0-9]+)")
_CONSUMED = frozenset((*table.CLASSIC_DATE_FIELDS, *table.STRUCTURAL_FIELDS, *_JOINED))


_PASSTHROUGH_KIND = {csl.Kind.NAME: table.NAMES, csl.Kind.DATE: table.EDTF,
                     csl.Kind.NUMBER: table.RICH, csl.Kind.TEXT: table.RICH}
# keyed by the lower-cased field name: BibTeX field names ignore case (csl-journalAbbreviation)
_PASSTHROUGH_ROWS = {
    (table.CSL_FIELD_PREFIX + variable).lower(): table.FieldIn(table.CSL_FIELD_PREFIX + variable, variable,
                                                               _PASSTHROUGH_KIND[kind])
    for variable, kind in csl.VARIABLE_KIND.items()
}


def _row_for(field_name: str, csl_type: str) -> table.FieldIn | None:
    for row in _FIELD_ROWS.get(field_name, ()):
        if not row.types or csl_type in row.types:
            return row
    return _PASSTHROUGH_ROWS.get(field_name)


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _join_title(title: str, subtitle: str) -> str:
    return f"{title} {subtitle}" if title.rstrip().endswith(("?", "!", ":", ".")) else f"{title}: {subtitle}"


@lru_cache(maxsize=65536)
def _decoded_name(raw: str) -> tuple[dict, tuple[tuple[str, str], ...]]:
    """A name and the warnings decoding it raised: names repeat across entries (authors, editors),
    and parsing and decoding each one anew was a fifth of converting an entry."""
    warnings: list[tuple[str, str]] = []

    def decode(value: str) -> str:
        return latex.to_unicode(value, protect_case=False, warn=lambda code, message: warnings.append((code, message)))

    return names.parse_name(raw, decode), tuple(warnings)


class _Converter:
    """Field value conversions for one entry, reporting warnings against it."""

    def __init__(self, where: _Where, entry: RawEntry):
        self.where = where
        self.entry = entry
        self.field: str | None = None  # the field being converted: warnings point at its line
        self.heard: list[tuple[str, str]] | None = None  # warnings held back by _hear

    def warn(self, code, message):
        if self.heard is not None:
            self.heard.append((code, message))
            return
        entry = self.entry
        line = entry.field_lines.get(self.field, entry.line) if self.field else entry.line
        self.where.warning(code, message, line=line, key=entry.key)

    def warn_at(self, field_name: str | None, code: str, message: str) -> None:
        """A warning about field_name (at its line) given while no field is being converted."""
        self.field = field_name
        self.warn(code, message)
        self.field = None

    def plain_at(self, field_name: str, value: str) -> str:
        self.field = field_name
        try:
            return self.plain(value)
        finally:
            self.field = None

    def _hear(self, kind: str, value: str) -> tuple[object, list[tuple[str, str]]]:
        """convert(kind, value) and the warnings it raised, not told yet."""
        self.heard = []
        try:
            return self.convert(kind, value), self.heard
        finally:
            self.heard = None

    def convert_joined(self, kind: str, joined: str, whole_value: str, part: str):
        """convert() of a title joined with its subtitle, each warning told at the line of the field
        whose text raised it: the title's own (its text comes first), then the subtitle's."""
        converted, heard = self._hear(kind, joined)
        from_whole = Counter(self._hear(kind, whole_value)[1])
        whole = self.field
        for warning in heard:
            self.field = whole if from_whole[warning] else part
            from_whole[warning] -= 1
            self.warn(*warning)
        self.field = whole
        return converted

    def bad_name(self, name: str, problem: ValueError) -> None:
        self.warn("bad-name", f"name {name!r} not understood ({problem}): kept as one literal name")

    def name(self, raw: str) -> dict:
        """One BibTeX name as a CSL name; its decoding warnings are told to this entry."""
        parsed, warnings = _decoded_name(raw)
        for code, message in warnings:  # replayed on cache hits too
            self.warn(code, message)
        return parsed  # shared with the memo: to_item's csl.normalize copies every name dict

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
        if "year" not in entry.failed:  # a year that failed is reported already
            conv.warn_at("month" if month is not None else "day", "bad-date",
                         "month or day without a year: kept in custom")
        return None
    texts = {name: conv.plain_at(name, value) if value else None
             for name, value in (("year", year), ("month", month), ("day", day))}
    try:
        return dates.from_bibtex(texts["year"], texts["month"], texts["day"])
    except ValueError as problem:
        conv.warn_at(_bad_date_field(texts), "bad-date",
                     f"year/month/day not understood ({problem}); kept as literal")
        literal = " ".join(texts[name] for name in ("day", "month", "year") if texts[name])
        return {"literal": literal}


def _bad_date_field(texts: dict[str, str | None]) -> str:
    """The first of year, month, day at which from_bibtex fails (the warning points at it)."""
    year, month = texts["year"], texts["month"]
    for name, given in (("year", (year, None, None)), ("month", (year, month, None))):
        try:
            dates.from_bibtex(*given)
        except ValueError:
            return name
    return "day"


def _csl_type(entry: RawEntry, conv: _Converter) -> tuple[str, str | None]:
    row = table.TYPE_IN.get(entry.entry_type)
    subtype = entry.fields.get("entrysubtype", "").strip().lower()
    if row is None:
        conv.warn("unknown-type", f"entry type @{entry.entry_type} has no CSL type; read as document")
        return "document", None
    csl_type = row.csl_type
    if entry.entry_type == "article" and subtype in table.SUBTYPE_IN:
        csl_type = table.SUBTYPE_IN[subtype]
    elif subtype in csl.TYPES:
        csl_type = subtype  # written by bibport for CSL types with no entry type of their own
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
    joined: dict[str, str] = {}  # whole -> the part joined into it (for the lines of warnings)
    for part, whole in table.JOINED_FIELDS:
        if part in fields and whole in fields:
            fields[whole] = _join_title(fields[whole], fields[part])
            joined[whole] = part
        elif part in fields:
            custom_fields[part] = fields[part]
            if whole not in entry.failed:  # a whole that failed is reported already
                conv.warn_at(part, "unmapped-field", f"{part} without {whole}: kept in custom")
    howpublished = fields.get("howpublished", "")
    if "\\url" in howpublished and "url" not in fields:
        fields["url"] = re.sub(r"^.*?\\url\{([^}]*)\}.*$", r"\1", howpublished)
        del fields["howpublished"]

    more_urls: list[tuple[int, str]] = []
    for name, value in fields.items():
        if name in _CONSUMED:
            continue
        conv.field = name
        numbered = _MORE_URL.fullmatch(name)
        if numbered:
            more_urls.append((int(numbered[1]), conv.convert(table.VERBATIM, value)))
            continue
        row = _row_for(name, csl_type)
        if row is None:
            custom_fields[name] = value
            if (name, csl_type) not in table.QUIET_CUSTOM:
                conv.warn("unmapped-field", f"field {name} has no CSL variable: kept in custom")
            continue
        if row.kind == table.NAMES:
            decoded, others = names.parse_names(value, conv.plain, on_bad=conv.bad_name, parse_one=conv.name)
            converted = decoded
            if others:
                custom.setdefault(csl.CUSTOM_ET_AL, []).append(row.variable)
        elif name in joined:
            converted = conv.convert_joined(row.kind, value, entry.fields[name], joined[name])
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
    conv.field = None
    urls = [url for _, url in sorted(more_urls) if url]
    if urls and "URL" not in item:
        item["URL"] = urls.pop(0)  # the first URL is CSL's URL, wherever it was written
    if urls:
        custom[csl.CUSTOM_MORE_URLS] = urls

    classic = _classic_date(entry, conv)
    if classic is not None:
        if "issued" in item and item["issued"] != classic:
            for name in table.CLASSIC_DATE_FIELDS:
                if name in entry.fields:
                    custom_fields[name] = entry.fields[name]
            conv.warn_at("year" if "year" in entry.fields else "month", "field-conflict",
                         "date and year/month disagree: year/month kept in custom")
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
    if subtype and subtype.strip().lower() not in (*csl.TYPES, *table.SUBTYPE_IN):
        custom_fields["entrysubtype"] = subtype

    if "genre" in item:
        item["genre"] = GENRE_KEYS.get(item["genre"].lower(), item["genre"])
    elif default_genre:
        item["genre"] = default_genre
    if "event-title" in item:
        item.setdefault("event", item["event-title"])  # citeproc-js/py and most styles still read `event`

    # the biblatex type is only worked out when the BibTeX one differs (most entries match it)
    if (entry.entry_type != entry_type_for(item, table.BIBTEX)
            and entry.entry_type != entry_type_for(item, table.BIBLATEX)):
        custom[csl.CUSTOM_BIBTEX_TYPE] = entry.entry_type
    if custom_fields:
        custom[csl.CUSTOM_BIBTEX_FIELDS] = custom_fields
    if custom:
        item["custom"] = custom
    return csl.normalize(item)


def read(text: str, report, *, source: str | None = None) -> list[dict]:
    """Parse BibTeX/biblatex text into CSL items; bad entries are reported and skipped."""
    with parallel.collector_paused():  # millions of acyclic objects, kept
        return _read(text, report, source)


def _read(text: str, report, source: str | None) -> list[dict]:
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
    # A bad entry is converted too, for its other problems (one must not hide the rest), and then
    # left out: _convert gives None for it.
    good = list(seen.values())
    # Only `good` holds the entries from here on: each is dropped once its item exists, so the
    # items reuse its memory (a 100k-entry file peaks ~250 MB lower).
    del entries, citable, seen, folded
    parts = min(parallel.cores(), len(good) // (PARALLEL_MIN_ENTRIES // 2))
    if len(good) < PARALLEL_MIN_ENTRIES or parts < 2 or not parallel.can_fork():
        for index, entry in enumerate(good):
            good[index] = None
            item = _convert(entry, where)
            if item is not None:
                items.append(item)
        report.tick("converting", len(good), len(good))
        return items
    # Forked children see `good` as it is here; each returns a slice's items and the diagnostics it
    # raised, replayed in entry order so the report reads exactly as a serial run's.
    jobs = [(good, start, start + ITEMS_PER_JOB, source) for start in range(0, len(good), ITEMS_PER_JOB)]
    results = parallel.ordered_map(_items_recorded, jobs, min(parts, len(jobs)))
    for (_, start, stop, _), (chunk_items, calls) in zip(jobs, results, strict=True):
        report.replay(calls)
        items.extend(item for item in chunk_items if item is not None)
        report.tick("converting", min(stop, len(good)), len(good))
        good[start:stop] = [None] * len(good[start:stop])  # done: no job reads these again
    return items


def _items_recorded(entries: list[RawEntry], start: int, stop: int, source) -> tuple[list, list]:
    recorder = Recorder()
    where = _Where(recorder, source)
    return [_convert(entry, where) for entry in entries[start:stop]], recorder.calls


def _convert(entry: RawEntry, where: _Where) -> dict | None:
    """The entry's item, or None for a bad entry (converted all the same: its warnings are told)."""
    item = to_item(entry, where)
    return None if entry.bad else item


# ---------------------------------------------------------------- writer

_OUT_ROWS: dict[str, list[table.FieldOut]] = {}
for _out in table.FIELDS_OUT:
    _OUT_ROWS.setdefault(_out.variable, []).append(_out)
_FIELD_RANK = {name: rank for rank, name in enumerate(table.FIELD_ORDER)}
_SKIPPED_VARIABLES = frozenset(("id", "citation-key", "type", "custom"))


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
    """The entrysubtype that makes the entry read back as the item's CSL type, if one is needed."""
    csl_type = item.get("type")
    row = table.TYPE_OUT.get(csl_type)
    if row is not None and row.subtype in table.SUBTYPE_IN:
        return row.subtype  # biblatex's own article subtypes
    back = table.TYPE_IN.get(entry_type)
    if back is None or back.csl_type == csl_type:
        return None
    if entry_type == table.FALLBACK_TYPE and csl_type in ("document", "webpage"):
        return None  # @misc reads as one of these by its URL (a declared partial loss)
    return csl_type


def _default_genre(entry_type: str) -> str | None:
    row = table.TYPE_IN.get(entry_type)
    return row.genre if row else None


_UNCACHED_CHARS = 512


@lru_cache(maxsize=65536)  # venues, publishers and names repeat; from_unicode is pure
def _from_unicode(text: str, ascii_only: bool) -> str:
    return latex.from_unicode(text, ascii=ascii_only)


class _Encoder:
    def __init__(self, ascii_only: bool):
        self.ascii_only = ascii_only

    def __call__(self, text: str) -> str:
        if len(text) > _UNCACHED_CHARS:  # a long abstract is rarely repeated: the cache would pin it
            return latex.from_unicode(text, ascii=self.ascii_only)
        return _from_unicode(text, self.ascii_only)


_ENCODERS = {True: _Encoder(True), False: _Encoder(False)}


@lru_cache(maxsize=65536)
def _name_text(parts: tuple[tuple[str, str], ...], ascii_only: bool) -> str:
    return names.format_name(dict(parts), _ENCODERS[ascii_only])


def _names_text(people: list[dict], others: bool, encode: _Encoder) -> str:
    """names.format_names, with each distinct name formatted once (it tries up to ten bracings)."""
    try:
        parts = [_name_text(tuple(person.items()), encode.ascii_only) for person in people]
    except TypeError:  # an unhashable part value: no cache for this list
        return names.format_names(people, others, encode)
    if others:
        parts.append("others")
    return " and ".join(parts)


def _brace(value: str) -> str:
    return "{" + value + "}"


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
                # the file had both: keep both
                out["date"] = _field_value(table.EDTF, variable, value, False, encode, dialect, warn)
            else:
                _classic_date_fields(value, out, warn)
            continue
        if variable == "event" and value == item.get("event-title"):
            continue  # the reader copies event-title into event
        target = table.VARIABLE_ALIASES.get(variable)
        if target is not None and item.get(target) == value:
            continue
        rows = _OUT_ROWS.get(target if target is not None and target not in item else variable)
        if variable == "event" and item.get("event-title"):
            rows = None  # eventtitle belongs to event-title; a different event keeps its own field
        row = next((r for r in rows or () if not r.types or csl_type in r.types), None)
        name = getattr(row, dialect) if row else None
        if row is None or name is None or name in out:
            # no field of its own (or it is taken): keep it under its CSL name, read back the same
            name = table.CSL_FIELD_PREFIX + variable
            row = _PASSTHROUGH_ROWS[name.lower()]
        text = _field_value(row.kind, variable, value, variable in et_al, encode, dialect, warn)
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
    more_urls = item.get("custom", {}).get(csl.CUSTOM_MORE_URLS) or []
    more_urls = [url for url in (more_urls if isinstance(more_urls, list) else [more_urls]) if url]
    for number, url in enumerate(more_urls, table.FIRST_MORE_URL):
        out[table.MORE_URL_FIELD.format(number)] = _field_value(table.VERBATIM, "URL", url, False, encode,
                                                                dialect, warn)
    for name, raw in item.get("custom", {}).get(csl.CUSTOM_BIBTEX_FIELDS, {}).items():
        if name in out:
            warn("unwritable-variable", f"custom field {name} clashes with a mapped field: not written")
            continue
        out[name] = _brace(raw) if latex.balanced(raw) else _brace(raw.replace("{", "\\{").replace("}", "\\}"))
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
        warn("lossy-date",
             "classic BibTeX has no ranges, seasons or circa: only the start year/month written")


def _writable_name(name: dict, warn) -> dict:
    if name.get("family") or name.get("literal"):
        return name
    literal = ", ".join(part for part in (name.get("given"), name.get("suffix")) if part)
    warn("name-literal", f"name {literal!r} has no family name: written as one literal name")
    return {"literal": literal}


def _field_value(kind, variable, value, others, encode: _Encoder, dialect, warn) -> str | None:
    if kind == table.NAMES:
        fixed = [_writable_name(name, warn) for name in value]
        return _brace(_names_text(fixed, others, encode))
    if kind in (table.RICH, table.PLAIN):
        return _brace(encode(str(value)))
    if kind in (table.VERBATIM, table.DOI):
        text = str(value)
        return _brace(text if latex.balanced(text) else text.replace("{", "%7B").replace("}", "%7D"))
    if kind == table.PAGES:
        return _brace(pages.to_bibtex(str(value)))  # already LaTeX: `--` must stay a range dash
    if kind == table.EDTF:
        try:
            return _brace(dates.to_edtf(value))
        except ValueError as problem:  # e.g. a season together with a month: EDTF has no such date
            warn("lossy-date", f"{variable}: {problem}; written without its season")
            return _brace(dates.to_edtf({k: v for k, v in value.items() if k != "season"}))
    if kind == table.LANG:
        lowered = str(value).lower()
        language = table.LANGUAGE_BY_TAG.get(lowered) or table.LANGUAGE_BY_NAME.get(lowered)
        return _brace(language.babel if language else encode(str(value)))
    if kind == table.KEYWORDS:
        return _brace(encode(str(value)))
    raise AssertionError(kind)


def _format_entry(entry_type: str, key: str, fields: dict[str, str]) -> str:
    ordered = sorted(fields, key=lambda n: (_FIELD_RANK.get(n, len(_FIELD_RANK)), n))
    width = max((len(n) for n in ordered), default=0)
    # One join: a huge value is copied once into the entry, not once per line and again per join.
    parts = [f"@{entry_type}{{{key},\n"]
    for name in ordered:
        parts += ("  ", name.ljust(width), " = ", fields[name], ",\n")
    parts.append("}\n")
    return "".join(parts)


def write(items, report, *, dialect: str = table.BIBTEX, ascii: bool | None = None, **_options) -> str:
    """Serialise items as canonical BibTeX (`dialect="bibtex"`) or biblatex."""
    return "".join(records(items, report, dialect=dialect, ascii=ascii))


def records(items, report, *, dialect: str = table.BIBTEX, ascii: bool | None = None,
            **_options) -> Iterator[str]:
    """The BibTeX text as consecutive pieces, made as they are needed (for streaming)."""
    if dialect not in table.DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    items = items if isinstance(items, list) else list(items)
    ascii_only = dialect == table.BIBTEX if ascii is None else ascii
    return _pieces(items, keys.assign_keys(items), report, dialect, ascii_only)


def _pieces(items: list, entry_keys: list[str], report, dialect: str, ascii_only: bool) -> Iterator[str]:
    separator = ""
    for text in parallel.written_slices(_texts, items, report, entry_keys, dialect, ascii_only):
        yield separator + text
        separator = "\n"


def _texts(items: list, start: int, stop: int, entry_keys: list[str], dialect: str,
           ascii_only: bool) -> tuple[str, list]:
    """Entries start..stop and the diagnostics they raised."""
    recorder = Recorder()
    encode = _ENCODERS[ascii_only]
    chunks = []
    for item, key in zip(items[start:stop], entry_keys[start:stop], strict=True):
        named = str(item.get("id") or key)  # the key the user gave, not a generated one

        def warn(code, message, _key=named):
            recorder.warning(code, message, key=_key)

        entry_type = entry_type_for(item, dialect)
        fields = _entry_fields(item, dialect, entry_type, encode, warn)
        if encode.ascii_only and not all(value.isascii() for value in fields.values()):
            warn("non-ascii", "characters with no LaTeX escape left as UTF-8")
        chunks.append(_format_entry(entry_type, key, fields))
    fields = None  # the last entry's values are in its chunk now: not held during the join
    return "\n".join(chunks), recorder.calls
