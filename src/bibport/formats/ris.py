"""RIS reader and writer with Zotero's tag semantics (format layer, stdlib only).

Tables: `bibport.mappings.ris`. Reading:
- a UTF-8 BOM and CRLF, LF or CR line ends are accepted; `XX  - value` and a bare `ER  -` are tag
  lines; U+2028/U+2029 inside a line become spaces (as in Zotero);
- a near miss (`AU - x`, `A1 -x`, `au  - x`, a tab for the spaces: `table.NEAR_MISS_TAG_LINES`) is
  read as its tag, exactly as a proper line, with a `ris-malformed-tag` warning at its line;
- any other line inside a record continues the previous value: it is appended after one space
  (RIS exporters wrap long abstracts; folding keeps every value on one line, as the writer needs);
  one that still looks like a tag line is warned about;
- a record with no ER before the end of input, a TY inside an open record, or non-blank text
  outside any record is an error with its 1-based line: the broken record is skipped, reading goes
  on, and every problem is reported in the same pass;
- for single-valued tags the first value wins (as in Zotero); a different later value is kept in
  `custom.ris` with a warning, like any tag with no CSL home.
Writing: one record per item, plain text (markup stripped, newlines and controls folded so no
value can start a fake record), CRLF line ends unless `line_ending` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from bibport import csl, parallel
from bibport.diagnostics import Recorder
from bibport.mappings import ris as table
from bibport.values import dates, pages
from bibport.values.keys import assign_keys, is_valid_key
from bibport.values.markup import strip_markup

_CUSTOM_TAG = re.compile(r"[A-Z][A-Z0-9]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FOLDED = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_DOI = re.compile(r"10\.[0-9]{4,}(?:\.[0-9]+)*/\S+")
_VERBATIM = ("URL", "DOI")  # never touched by markup stripping
_RUNS = re.compile(r" {2,}")
_TAG_RANK = {tag: rank for rank, tag in enumerate(table.TAG_ORDER)}
_write_tag = lru_cache(maxsize=4096)(table.write_tag)  # the table lookup scans every row per call

# --------------------------------------------------------------------------------------------------
# Writer


def _plain(value, *, markup: bool = True) -> str:
    """One-line plain text: markup stripped, line breaks folded to a space, controls dropped."""
    text = str(value)
    if markup and "<" in text:
        text = strip_markup(text)
    # Fast path: every folded or control character is non-printable.
    if text.isprintable() and "  " not in text:
        return text.strip()
    text = _CONTROL.sub("", _FOLDED.sub(" ", text))
    return _RUNS.sub(" ", text).strip()


def _bare_doi(value: str) -> str:
    return _DOI_PREFIX.sub("", value.strip())


def _name_line(name) -> str:
    """`Family, Given, Suffix` (particles in front of the family) or a literal."""
    if not isinstance(name, dict):
        return _plain(name)
    if name.get("literal"):
        return _plain(name["literal"])
    family = " ".join(
        _plain(name[k]) for k in ("dropping-particle", "non-dropping-particle", "family") if name.get(k)
    )
    given = _plain(name.get("given", ""))
    suffix = _plain(name.get("suffix", ""))
    if not family:
        return given
    parts = [family, given]
    if suffix:
        parts.append(suffix)  # Zotero keeps everything after the first comma as the given name
    return ", ".join(parts) if given or suffix else family + ","


def _date_line(date) -> tuple[str | None, str | None, bool]:
    """(PY, DA, lossy) for a CSL date; literal dates go to DA verbatim."""
    if not isinstance(date, dict):
        return None, None, True
    try:
        year, full = dates.to_ris(date)
    except (ValueError, TypeError, KeyError, IndexError):
        text = date.get("literal") or date.get("raw")
        return None, (_plain(text) if text else None), not text
    parts = date.get("date-parts") or []
    lossy = len(parts) > 1 or bool(date.get("circa"))
    return year, full, lossy


def _record(item: dict, index: int, report, source, eol: str) -> str:
    key = item.get("citation-key") or item.get("id")
    where = {"source": source, "key": str(key) if key is not None else None}
    csl_type = item.get("type")
    ty = table.CSL_TO_TY.get(csl_type)
    if ty is None:
        ty = "GEN"
        report.warning("ris-unknown-type", f"item {index}: type {csl_type!r} has no RIS type; wrote GEN",
                       **where)
    lines: dict[str, list[str]] = {}
    lost: list[str] = []

    def put(tag: str, value) -> None:
        if value:
            lines.setdefault(tag, []).append(value)

    for variable, value in item.items():
        if variable in ("id", "type", "citation-key", "custom") or value in (None, "", [], {}):
            continue
        if variable == "event":
            continue  # handled with event-title below
        if variable in ("issued", "accessed"):
            tag = _write_tag(ty, variable)
            year, full, lossy = _date_line(value)
            if lossy:
                lost.append(f"{variable} (range end or circa)")
            if variable == "issued":
                put("DA", full)
                put("PY", year)
            else:
                put(tag, full)
            continue
        if variable == "page":
            if _write_tag(ty, "page") is None:
                lost.append(variable)
                continue
            text = _plain(value)
            first, last = pages.split_range(text) if text else ("", None)
            put("SP", first)
            put("EP", last)
            continue
        if variable == "publisher-place" and ty == "CONF" and not item.get("event-place"):
            put("C1", _plain(value))  # Zotero reads the place of a conference paper from C1 only
        tag = _write_tag(ty, variable)
        if tag is None:
            lost.append(variable)
            continue
        kind = csl.VARIABLE_KIND.get(variable)
        if kind is csl.Kind.NAME:
            for name in value if isinstance(value, list) else [value]:
                put(tag, _name_line(name))
        elif variable == "keyword":
            for word in re.split(r"[,;]", _plain(value)):
                put(tag, word.strip())
        elif variable in ("ISBN", "ISSN"):
            put(tag, " ".join(part for part in re.split(r"[\s,;]+", _plain(value)) if part))
        elif variable == "DOI":
            put(tag, _bare_doi(_plain(value, markup=False)))
        elif variable == "note":
            for paragraph in str(value).splitlines():
                put(tag, _plain(paragraph))  # one N1 per line; the reader joins them with newlines
        else:
            put(tag, _plain(value, markup=variable not in _VERBATIM))
    if item.get("event"):
        tag = _write_tag(ty, "event-title")
        if tag is None:
            lost.append("event")
        elif not item.get("event-title"):
            put(tag, _plain(item["event"]))
        elif _plain(item["event"]) != _plain(item["event-title"]):
            lost.append("event")
    for tag in ("UR", "SN"):
        if len(lines.get(tag, [])) > 1:
            lines[tag] = lines[tag][:1]  # Zotero keeps only the first
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
    more_urls = custom.get(csl.CUSTOM_MORE_URLS)
    for url in more_urls if isinstance(more_urls, list) else [more_urls]:
        put(_write_tag(ty, "URL"), _plain(url or "", markup=False))  # after the first: read back in order
    if is_valid_key(key):
        put("ID", key)

    out = [f"TY  - {ty}"]
    # Only the tags present, in TAG_ORDER (tags outside it are not written).
    for tag in sorted((t for t in lines if t in _TAG_RANK), key=_TAG_RANK.__getitem__):
        out.extend(f"{tag}  - {value}" for value in lines[tag])
    extra = custom.get(csl.CUSTOM_RIS_TAGS)
    if isinstance(extra, dict):
        for tag, values in extra.items():
            if not isinstance(tag, str) or not _CUSTOM_TAG.fullmatch(tag) or tag in ("TY", "ER"):
                report.warning("ris-bad-custom-tag", f"item {index}: custom.ris tag {tag!r} not written",
                               **where)
                continue
            for value in values if isinstance(values, list) else [values]:
                text = _plain(value, markup=False)
                if text:
                    out.append(f"{tag}  - {text}")
    lost.extend(f"custom.{name}" for name in custom if name not in (csl.CUSTOM_RIS_TAGS, csl.CUSTOM_MORE_URLS))
    if lost:
        report.warning("ris-unexpressible",
                       f"item {index}: RIS ({ty}) cannot hold {', '.join(sorted(set(lost)))}; dropped",
                       **where)
    out.append("ER  - ")
    return "".join(line + eol for line in out)


def write(items, report, *, line_ending: str = "\r\n", source=None, **_options) -> str:
    """Serialise CSL items as RIS records (CRLF by default), each closed by `ER  - `."""
    return "".join(records(items, report, line_ending=line_ending, source=source))


def records(items, report, *, line_ending: str = "\r\n", source=None, **_options) -> Iterator[str]:
    """The RIS text as consecutive pieces, made as they are needed (for streaming)."""
    if line_ending not in ("\r\n", "\n", "\r"):
        raise ValueError(f"line_ending must be CRLF, LF or CR, not {line_ending!r}")
    items = items if isinstance(items, list) else list(items)
    return _pieces(items, report, line_ending, source)


def _pieces(items: list, report, eol: str, source) -> Iterator[str]:
    separator = ""
    for text in parallel.written_slices(_texts, items, report, source, eol):
        yield separator + text
        separator = eol  # records are separated by a blank line


def _texts(items: list, start: int, stop: int, source, eol: str) -> tuple[str, list]:
    """Records start..stop (numbered from 1 over the whole list) and the diagnostics they raised."""
    recorder = Recorder()
    text = eol.join(_record(items[index], index + 1, recorder, source, eol) for index in range(start, stop))
    return text, recorder.calls


# --------------------------------------------------------------------------------------------------
# Reader


def _parse_name(text: str) -> dict | None:
    """`Family, Given[, Suffix]` -> CSL name (leading lower-case words are particles); else a literal."""
    if "," not in text:
        return {"literal": text}
    family, _, rest = text.partition(",")
    given, _, suffix = rest.partition(",")
    family, given, suffix = family.strip(), given.strip(), suffix.strip()
    name: dict = {}
    words = family.split()
    lead = 0
    while lead < len(words) - 1 and words[lead][:1].islower():
        lead += 1
    if lead:
        name["non-dropping-particle"] = " ".join(words[:lead])
    name["family"] = " ".join(words[lead:])
    name["given"] = given
    name["suffix"] = suffix
    name = {k: v for k, v in name.items() if v}
    return name or None


_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Text that looks like a botched tag line but matches no table.NEAR_MISS_TAG_LINES row (`T1-x`,
# `XYZ  - x`, `  - x`, `is - x`): it may be wrapped prose, so it is joined, with a warning.
_LOOKS_LIKE_TAG = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]{1,3}\s*-(?:\s|$)|[A-Z][A-Z0-9]-\S|-\s)")
_TAG_LINE = re.compile(table.TAG_LINE)
_NEAR_MISSES = tuple((re.compile(row.shape), row) for row in table.NEAR_MISS_TAG_LINES)
_LINE_TAGS = table.line_tags()


def _tag_line(line: str) -> tuple[str | None, str, str | None]:
    """(tag, value, why it is a near miss) of a line without trailing blanks; (None, "", None): text."""
    match = _TAG_LINE.fullmatch(line)
    if match:
        return match["tag"], (match["value"] or "").strip(), None
    if len(line) < 3 or line[2] not in " \t":  # every near miss has a blank after its two characters
        return None, "", None
    for shape, row in _NEAR_MISSES:
        match = shape.fullmatch(line)
        if match:
            tag = match["tag"].upper()
            if row.any_tag or tag in _LINE_TAGS:
                return tag, (match["value"] or "").strip(), row.reason
    return None, "", None


def _id_of(entries: list[list]) -> str | None:
    """The record's ID tag, to name it in diagnostics about the whole record."""
    return next((value for tag, value, _ in entries if tag == "ID" and value), None)


Note = tuple[str, str, str, int]  # (severity, code, message, line), reported with the record's key
_PIECE_CHARS = 1 << 20


def _lines(text: str) -> Iterator[str]:
    """The lines _LINE_BREAK.split(text) gives, split about a megabyte at a time: a list of every
    line of a large file cost more memory than the items read from it. Pieces end just after a
    `\n`, so no `\r\n` is cut in two."""
    start = 0
    while True:
        cut = text.find("\n", start + _PIECE_CHARS)
        if cut < 0:
            yield from _LINE_BREAK.split(text[start:] if start else text)
            return
        lines = _LINE_BREAK.split(text[start:cut + 1])
        lines.pop()  # the empty line after the piece's last `\n`: the next piece goes on from there
        yield from lines
        start = cut + 1


def _scan(text: str, report, source) -> Iterator[tuple[int, list[list], list[Note]]]:
    """Yield the records (TY line, [[tag, value, line], ...], notes) as they close, reporting structure
    errors; the notes are line warnings that wait for the record's key."""
    if text.startswith("\ufeff"):
        text = text[1:]
    current: tuple[int, list[list], list[Note]] | None = None
    in_stray = False
    unsafe_lines: list[int] = []  # of the open record: it is skipped, and named when it closes

    def reject_unsafe(entries):
        for bad in unsafe_lines:
            report.error("control-char", "control or bidi-override character in input: record skipped",
                         source=source, line=bad, key=_id_of(entries))
        unsafe_lines.clear()

    def flush(notes, entries):
        """The notes of a record that is skipped: reported now, named by its ID if it has one."""
        for severity, code, message, line in notes:
            report.add(severity, code, message, source=source, line=line, key=_id_of(entries))

    for number, raw in enumerate(_lines(text), 1):
        line = re.sub(r"\s?[\u2028\u2029]\s?", " ", raw)
        if _UNSAFE_CHARS.search(line):
            if current is None and line.strip():
                report.error("control-char", "control or bidi-override character in input",
                             source=source, line=number)
            unsafe_lines.append(number)
        tag, value, near_miss = _tag_line(line.rstrip())
        note = None
        if near_miss:
            shown = line.strip()[:20].replace("\t", "<tab>")
            note = ("warning", "ris-malformed-tag",
                    f"{shown!r} read as {tag}: {near_miss}; a tag line is `XX  - value` "
                    "(two spaces, hyphen, space)", number)
        if current is None:
            if tag == "TY":
                current, in_stray = (number, [["TY", value, number]], [note] if note else []), False
            elif not line.strip():
                in_stray = False
            elif tag == "ER" and in_stray:
                in_stray = False
            elif tag == "ER":
                report.warning("ris-stray-er", "ER outside any record ignored", source=source, line=number)
            elif not in_stray:
                report.error("ris-stray-text",
                             f"text outside any record (a record starts with TY): {line.strip()[:40]!r}",
                             source=source, line=number)
                in_stray = True
            continue
        start, entries, notes = current
        if tag == "TY":
            report.error("ris-nested-ty",
                         f"TY inside the record opened at line {start} (missing ER): that record is skipped",
                         source=source, line=number, key=_id_of(entries))
            flush(notes, entries)
            unsafe_lines[:] = [n for n in unsafe_lines if n >= number]
            current = (number, [["TY", value, number]], [note] if note else [])
            continue
        if note:
            notes.append(note)
        if tag == "ER":
            if any(start <= n <= number for n in unsafe_lines):
                reject_unsafe(entries)
                flush(notes, entries)
            else:
                yield current
            current = None
        elif tag is not None:
            entries.append([tag, value, number])
        elif line.strip():
            last = entries[-1]
            if last[0] == "TY":
                notes.append(("warning", "ris-continuation", "text after TY is not a tag line: ignored",
                              number))
            else:
                if _LOOKS_LIKE_TAG.match(line.strip()):
                    notes.append(("warning", "ris-malformed-tag",
                                  f"{line.strip()[:20]!r} is not a tag line (`XX  - value`): "
                                  f"joined to the {last[0]} value above", number))
                last[1] = f"{last[1]} {line.strip()}".strip()
    if current is not None:
        report.error("ris-missing-er",
                     f"record opened at line {current[0]} has no ER before the end of input: skipped",
                     source=source, line=current[0], key=_id_of(current[1]))
        flush(current[2], current[1])


class _Record:
    """Builds one CSL item from the tag lines of a record; diagnostics wait for the key."""

    def __init__(self, start: int, entries: list[list], notes: list[Note]):
        self.start = start
        self.entries = entries
        self.item: dict = {}
        self.custom: dict[str, list[str]] = {}
        self.more_urls: list[str] = []
        self.notes: list[Note] = notes
        self.key_candidate: str | None = None

    def warn(self, code: str, message: str, line: int) -> None:
        self.notes.append(("warning", code, message, line))

    def keep(self, tag: str, value: str) -> None:
        self.custom.setdefault(tag, []).append(value)

    def set_single(self, variable: str, tag: str, value, line: int) -> None:
        if variable not in self.item:
            self.item[variable] = value
        elif self.item[variable] != value:
            self.keep(tag, value if isinstance(value, str) else str(value))
            self.warn("ris-duplicate-tag",
                      f"second value for {variable} in {tag} (the first wins): kept in custom.ris", line)

    def build(self) -> dict:
        ty = self.entries[0][1].strip().upper()
        csl_type = table.TY_TO_CSL.get(ty)
        if csl_type is None:
            csl_type = table.UNKNOWN_TY_TYPE
            self.warn("ris-unknown-type", f"unknown TY {ty!r}: read as {csl_type} (as Zotero does)",
                      self.start)
        canonical = table.CSL_TO_TY[csl_type]
        tys = (ty, canonical) if ty != canonical else (canonical,)
        self.item["type"] = csl_type
        names: dict[str, list] = {}
        lists: dict[str, list[str]] = {}
        issued: list[tuple[str, str, int]] = []
        sp: list[tuple[str, int]] = []
        ep: list[tuple[str, int]] = []
        for tag, value, line in self.entries[1:]:
            if not value:
                continue
            if tag == "ID":
                if self.key_candidate is None and is_valid_key(value):
                    self.key_candidate = value
                else:
                    self.keep(tag, value)
                continue
            if tag == "M3" and _DOI.fullmatch(_bare_doi(value)) and "DO" not in (e[0] for e in self.entries):
                self.set_single("DOI", tag, _bare_doi(value), line)
                continue
            variable = table.read_variable(tag, *tys)
            if variable is None:
                self.keep(tag, value)
                if tag not in table.QUIET_TAGS:
                    known = "has no CSL home" if tag in table.known_tags() else "is unknown"
                    self.warn("ris-unknown-tag", f"tag {tag} {known} for TY {ty}: kept in custom.ris", line)
                continue
            kind = csl.VARIABLE_KIND.get(variable)
            if variable == "issued":
                issued.append((tag, value, line))
            elif variable == "page":
                (sp if tag == "SP" else ep).append((value, line))
            elif kind is csl.Kind.NAME:
                name = _parse_name(value)
                if name:
                    names.setdefault(variable, []).append(name)
            elif variable == "keyword":
                lists.setdefault(variable, []).extend(w.strip() for w in value.split(";") if w.strip())
            elif variable == "note":
                lists.setdefault(variable, []).append(value)
            elif tag == "SN":
                lists.setdefault(variable, []).append(value)
            elif variable == "URL" and "URL" in self.item:
                self.more_urls.append(value)  # CSL has one URL (Zotero keeps the first UR): all kept
            elif kind is csl.Kind.DATE:
                self.set_single(variable, tag, self.date(value, tag, line), line)
            elif variable == "DOI":
                self.set_single(variable, tag, _bare_doi(value), line)
            else:
                self.set_single(variable, tag, value, line)
        self.item.update(names)
        for variable, values in lists.items():
            joiner = {"keyword": ", ", "note": "\n"}.get(variable, " ")
            self.set_single(variable, "SN", joiner.join(values), 0)
        self.dates(issued)
        self.pages(sp, ep)
        if not self.item.get("container-title") and self.item.get("container-title-short"):
            self.item["container-title"] = self.item["container-title-short"]  # as Zotero does
        if canonical == "CONF" and self.item.get("event-place") == self.item.get("publisher-place"):
            self.item.pop("event-place", None)  # C1 was the writer's copy of CY for Zotero
        custom = {csl.CUSTOM_RIS_TAGS: self.custom, csl.CUSTOM_MORE_URLS: self.more_urls}
        if self.custom or self.more_urls:
            self.item["custom"] = custom
        if self.key_candidate:
            self.item["citation-key"] = self.key_candidate
        return self.item

    def date(self, value: str, tag: str, line: int) -> dict:
        try:
            return dates.parse_ris(value)
        except ValueError as exc:
            self.warn("ris-bad-date", f"{tag}: {exc}; kept as a literal date", line)
            return {"literal": value}

    def dates(self, issued: list[tuple[str, str, int]]) -> None:
        full = [e for e in issued if e[0] != "PY"]
        years = [e for e in issued if e[0] == "PY"]
        chosen = None
        for tag, value, line in full + years:
            try:
                parsed = dates.parse_ris(value)
            except ValueError as exc:
                self.keep(tag, value)
                self.warn("ris-bad-date", f"{tag}: {exc}; kept in custom.ris", line)
                continue
            if chosen is None:
                chosen = parsed
            elif parsed["date-parts"][0][0] != chosen["date-parts"][0][0] or (
                tag != "PY" and parsed != chosen
            ):
                self.keep(tag, value)
                self.warn("ris-duplicate-tag", f"{tag} disagrees with the first date: kept in custom.ris",
                          line)
        if chosen is not None:
            self.item["issued"] = chosen

    def pages(self, sp: list[tuple[str, int]], ep: list[tuple[str, int]]) -> None:
        for extra, tag in ((sp[1:], "SP"), (ep[1:], "EP")):
            for value, line in extra:
                self.keep(tag, value)
                self.warn("ris-duplicate-tag", f"second {tag} (the first wins): kept in custom.ris", line)
        start = sp[0][0] if sp else None
        end = ep[0][0] if ep else None
        if start and end:
            if pages.split_range(start)[1] is None:
                self.item["page"] = pages.to_csl(f"{start}-{end}")
            else:
                self.item["page"] = pages.to_csl(start)
                self.keep("EP", end)
                self.warn("ris-duplicate-tag", "EP after an SP range: kept in custom.ris", ep[0][1])
        elif start or end:
            self.item["page"] = pages.to_csl(start or end)


def read(text, report, *, source=None) -> list[dict]:
    """Parse RIS text into CSL items; never raises on bad input."""
    if not isinstance(text, str):
        text = text.decode("utf-8", errors="replace")
    with parallel.collector_paused():
        return _read(text, report, source)


def _read(text: str, report, source) -> list[dict]:
    # Each record is built as it closes and then dropped (its tag lines with it), and each item is let go once
    # normalized: the tag lines, the items and their normalized copies never all coexist.
    notes, items = [], []  # notes: (TY line, diagnostics) of each record, kept for its key
    for start, entries, record_notes in _scan(text, report, source):
        record = _Record(start, entries, record_notes)
        items.append(record.build())
        notes.append((start, record.notes))
    keys = assign_keys(items)
    out = []
    for index, ((start, record_notes), key) in enumerate(zip(notes, keys, strict=True)):
        item = items[index]
        items[index] = None
        item["id"] = key
        item["citation-key"] = key
        for severity, code, message, line in sorted(record_notes, key=lambda n: n[3] or start):
            report.add(severity, code, message, source=source, line=line or start, key=key)
        out.append(csl.normalize(item))
    return out
