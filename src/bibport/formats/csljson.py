"""CSL-JSON reader and writer (format layer, stdlib only).

Reading validates against the CSL 1.0.2 data schema with our own code: the top level is an array of
objects with an `id` (string or number) and a CSL `type`; names are objects; dates are objects with
integer date-parts (numeric strings and string years are converted) or `raw`/`literal` (a `raw`
that parses as EDTF becomes date-parts); number variables become strings. A date's `season` is one
of CSL's 1-4 (a word such as "Spring" or "fall" is read as its number with a warning); any other
season is dropped with a warning, not an error (Zotero's exports have put the time of access there).
A name is either one `literal` or its parts: both is an error. Keys outside the schema
move into `custom` with a warning. Bad items are errors naming `item N (id "x")` and the line where
the item starts; they are skipped and reading goes on. Excessive nesting, NaN/Infinity, lone
surrogates and duplicate object keys are errors, never exceptions.

Writing: profile `csl` (faithful, normalised) or `zotero` (what Zotero's CSL-JSON import keeps:
FACTS.md). Both: a JSON array, UTF-8, two-space indent, stable key order, one trailing newline.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator

from bibport import csl, parallel
from bibport.values import dates

MAX_DEPTH = 64  # a CSL item needs 5 levels (array, item, date, date-parts, parts)
_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{},]|[^\s\[\]{},"]++')
_KNOWN_KEYS = frozenset(csl.KEY_ORDER)
_NAME_PARTS = frozenset(csl.NAME_PARTS)
_DATE_KEYS = frozenset({"date-parts", "season", "circa", "literal", "raw"})
# A literal name is the whole name: next to any of these parts it is ambiguous (which to print?).
_PERSONAL_PARTS = ("family", "given", "dropping-particle", "non-dropping-particle", "suffix")
_TYPE_HINTS = {"inproceedings": "paper-conference", "conference": "paper-conference",
               "misc": "document", "journal": "article-journal", "article": "article-journal",
               "incollection": "chapter", "inbook": "chapter", "phdthesis": "thesis",
               "mastersthesis": "thesis", "techreport": "report", "online": "webpage"}


class _Object(dict):
    """A JSON object that remembers the keys it saw twice."""

    duplicates: tuple[str, ...] = ()


def _pairs(pairs):
    obj = _Object()
    seen = []
    for key, value in pairs:
        if key in obj:
            seen.append(key)
        obj[key] = value
    if seen:
        obj.duplicates = tuple(seen)
    return obj


class _BadConstant:
    def __init__(self, name: str):
        self.name = name


def _scan(text: str) -> tuple[int, list[int]]:
    """(maximum nesting depth, offsets where each top-level array element starts)."""
    depth = deepest = 0
    starts: list[int] = []
    expecting = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if depth == 1 and expecting and token not in ("]", ","):
            starts.append(match.start())
            expecting = False
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if depth == 1 and token == "[":
                expecting = True
        elif token in ("]", "}"):
            depth -= 1
        elif token == "," and depth == 1:
            expecting = True
    return deepest, starts


# Tabs and line breaks are text; other controls, DEL, C1 and bidi overrides can hide or forge output.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _problems_in(value, path: str):
    """Yield messages for NaN/Infinity, lone surrogates and duplicate keys anywhere in value."""
    stack = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, _BadConstant):
            yield f"{_safe(where)} is {current.name}, which JSON does not allow"
        elif isinstance(current, str):
            try:
                current.encode("utf-8")
            except UnicodeEncodeError:
                yield f"{_safe(where)} contains a lone surrogate"
            if _UNSAFE_CHARS.search(current):
                yield f"{_safe(where)} contains a control or bidi-override character"
        elif isinstance(current, dict):
            for key in getattr(current, "duplicates", ()):
                yield f"{_safe(where)} has the key {_safe(key)!r} twice"
            for key, child in current.items():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    yield f"{where} has a key with a lone surrogate"
                stack.append((child, f"{where}.{key}"))
        elif isinstance(current, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(current))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_names(variable: str, value) -> tuple[list | None, str | None]:
    if not isinstance(value, list):
        return None, f"{variable} must be a list of name objects"
    out = []
    for n, name in enumerate(value, 1):
        if isinstance(name, str):
            return None, f"{variable}[{n}] is a string ({_safe(name[:40])!r}), not a name object"
        if not isinstance(name, dict):
            return None, f"{variable}[{n}] is not a name object"
        unknown = sorted(set(name) - _NAME_PARTS)
        if unknown:
            return None, f"{variable}[{n}] has unknown name parts: {', '.join(unknown)}"
        for part, text in name.items():
            if part in ("comma-suffix", "static-ordering", "parse-names"):
                if not isinstance(text, (str, int, float, bool)):
                    return None, f"{variable}[{n}].{part} must be a string, number or boolean"
            elif not isinstance(text, str):
                return None, f"{variable}[{n}].{part} must be a string"
        if not any(str(v).strip() for k, v in name.items() if k in ("family", "given", "literal")):
            return None, f"{variable}[{n}] is an empty name"
        if "literal" in name:
            both = [part for part in _PERSONAL_PARTS if part in name]
            if both:
                return None, (f"{variable}[{n}] has both literal and {', '.join(both)}: a name is either "
                              "one literal or its parts")
        out.append(dict(name))
    return out, None


def _int_part(part):
    if isinstance(part, bool):
        return None
    if isinstance(part, int):
        return part
    if isinstance(part, float) and part.is_integer():
        return int(part)
    if isinstance(part, str) and re.fullmatch(r"\s*-?[0-9]+\s*", part):
        return int(part)
    return None


def _check_date(variable: str, value) -> tuple[dict | None, str | None, list[str]]:
    """(date, error, warnings)."""
    if isinstance(value, str):
        try:
            return dates.parse_edtf(value), None, [f"{variable} given as a string: read as EDTF"]
        except ValueError:
            return None, f"{variable} is a string that is not an EDTF date: {_safe(value[:40])!r}", []
    if not isinstance(value, dict):
        return None, f"{variable} must be a date object", []
    unknown = sorted(set(value) - _DATE_KEYS)
    if unknown:
        return None, f"{variable} has unknown keys: {', '.join(unknown)}", []
    date = {}
    if "date-parts" in value:
        parts = value["date-parts"]
        if not isinstance(parts, list) or not 1 <= len(parts) <= 2:
            return None, f"{variable}.date-parts must hold one or two lists", []
        clean = []
        for side in parts:
            if not isinstance(side, list) or not 1 <= len(side) <= 3:
                return None, f"{variable}.date-parts must hold lists of 1 to 3 numbers", []
            while len(side) > 1 and side[-1] in ("", None):
                side = side[:-1]  # some exporters pad missing parts with ""
            numbers = [_int_part(p) for p in side]
            if any(n is None for n in numbers):
                return None, f"{variable}.date-parts has a part that is not a number: {side!r}", []
            if len(numbers) > 1 and not (1 <= numbers[1] <= 12 or 21 <= numbers[1] <= 24):
                return None, f"{variable} has month {numbers[1]}", []
            if len(numbers) > 2 and not 1 <= numbers[2] <= 31:
                return None, f"{variable} has day {numbers[2]}", []
            clean.append(numbers)
        date["date-parts"] = clean
    warnings = []
    for key in ("season", "circa"):
        if key in value:
            if not isinstance(value[key], (str, int, float, bool)):
                return None, f"{variable}.{key} must be a string or number", []
            date[key] = value[key]
    if "season" in date:
        season, warning = _season(variable, date.pop("season"))
        if season is not None:
            date["season"] = season
        if warning:
            warnings.append(warning)
    for key in ("literal", "raw"):
        if key in value:
            if not isinstance(value[key], str):
                return None, f"{variable}.{key} must be a string", []
            date[key] = value[key]
    if "raw" in date and "date-parts" not in date:
        try:
            parsed = dates.parse_edtf(date["raw"])
        except ValueError:
            warnings.append(f"{variable}.raw {_safe(date['raw'][:40])!r} is not an EDTF date: kept as raw")
        else:
            del date["raw"]
            date.update(parsed)
    if not any(k in date for k in ("date-parts", "literal", "raw")):
        return None, f"{variable} has no date-parts, raw or literal", []
    return date, None, warnings


def _season(variable: str, value) -> tuple[int | None, str | None]:
    """(CSL season 1-4 or None, warning) for a date's season."""
    shown = _safe(value[:40]) if isinstance(value, str) else value
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None, None  # an empty season is no season (empties are dropped everywhere)
    elif _is_number(value) and float(value).is_integer():
        value = int(value)
    number = dates.season_number(value)
    if number is None:
        # a warning, not an error: Zotero's exports have put the time of access there ("22:38:38")
        return None, f"{variable}.season {shown!r} is not one of CSL's seasons (1-4): dropped"
    if isinstance(value, str) and not value.isdigit():
        return number, f"{variable}.season {shown!r} read as season {number}"
    return number, None


def _check_item(raw: dict) -> tuple[dict | None, list[str], list[str]]:
    """(clean item or None, errors, warnings) for one decoded object."""
    errors, warnings = [], []
    item: dict = {}
    custom = {}
    if "custom" in raw:
        if isinstance(raw["custom"], dict):
            custom = dict(raw["custom"])
        else:
            errors.append("custom must be an object")
    if "id" not in raw:
        errors.append("has no id")
    elif isinstance(raw["id"], bool) or not isinstance(raw["id"], (str, int, float)):
        errors.append("id must be a string or a number")
    kind = raw.get("type")
    if kind is None:
        errors.append("has no type")
    elif kind not in csl.TYPES:
        hint = _TYPE_HINTS.get(str(kind).lower())
        errors.append(f"type {kind!r} is not a CSL type" + (f" (use {hint!r})" if hint else ""))
    for key, value in raw.items():
        if key == "custom":
            continue
        if key not in _KNOWN_KEYS:
            if key in custom:
                errors.append(f"unknown key {_safe(key)!r} also present in custom")
            else:
                custom[key] = value
                warnings.append(f"unknown key {_safe(key)!r} moved to custom")
            continue
        variable_kind = csl.VARIABLE_KIND.get(key)
        if key in ("id", "type"):
            item[key] = value
        elif variable_kind is csl.Kind.NAME:
            names, error = _check_names(key, value)
            if error:
                errors.append(error)
            item[key] = names
        elif variable_kind is csl.Kind.DATE:
            date, error, date_warnings = _check_date(key, value)
            if error:
                errors.append(error)
            warnings += date_warnings
            item[key] = date
        elif variable_kind is csl.Kind.NUMBER:
            if isinstance(value, str):
                item[key] = value
            elif _is_number(value):
                item[key] = str(int(value)) if float(value).is_integer() else str(value)
            else:
                errors.append(f"{key} must be a string or number")
        elif key == "categories":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors.append("categories must be a list of strings")
            item[key] = value
        elif isinstance(value, str):
            item[key] = value
        elif _is_number(value):
            item[key] = str(value)
            warnings.append(f"{key} is a number: read as the string {str(value)!r}")
        else:
            errors.append(f"{key} must be a string")
    if custom:
        item["custom"] = custom
    return (None if errors else item), errors, warnings


def _safe(text: str) -> str:
    """Text with lone surrogates escaped, so a message can always be printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(index: int, raw) -> tuple[str, str | None]:
    ident = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(ident, (str, int, float)) and not isinstance(ident, bool):
        return f"item {index} (id {_safe(json.dumps(ident, ensure_ascii=False))})", _safe(str(ident))
    return f"item {index}", None


def read(text, report, *, source=None) -> list[dict]:
    """Parse and validate a CSL-JSON array; bad items are reported and skipped."""
    with parallel.collector_paused():
        return _read(text, report, source)


def _read(text, report, source) -> list[dict]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    depth, starts = _scan(text)
    if depth > MAX_DEPTH:
        report.error("json-too-deep", f"JSON nested {depth} levels deep (the limit is {MAX_DEPTH})",
                     source=source)
        return []
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_BadConstant)
    except json.JSONDecodeError as exc:
        report.error("json-syntax", exc.msg, source=source, line=exc.lineno)
        return []
    except (ValueError, RecursionError) as exc:  # defensive: the scan should have caught these
        report.error("json-syntax", str(exc), source=source)
        return []
    if not isinstance(data, list):
        report.error("csljson-not-array",
                     f"top level is a JSON {type(data).__name__.lstrip('_').lower()}, not an array of items"
                     " (wrap a single item in [ ])", source=source, line=1)
        return []
    items = []
    seen: dict[str, tuple[int, object]] = {}
    for index, raw in enumerate(data, 1):
        line = line_of(starts[index - 1]) if index - 1 < len(starts) else None
        label, key = _describe(index, raw)
        where = {"source": source, "line": line, "key": key}
        if not isinstance(raw, dict):
            report.error("csljson-not-object", f"{label} is not an object", **where)
            continue
        problems = list(_problems_in(raw, "item"))
        for problem in problems:
            report.error("json-invalid", f"{label}: {problem}", **where)
        item, errors, warnings = _check_item(raw)
        for message in errors:
            report.error("csljson-invalid", f"{label}: {message}", **where)
        for message in warnings:
            report.warning("csljson-lenient", f"{label}: {message}", **where)
        if item is None or problems:
            continue
        folded = str(item["id"]).casefold()
        if isinstance(item["id"], float) and item["id"].is_integer():
            folded = str(int(item["id"]))
        if folded in seen:
            first_index, first_id = seen[folded]
            report.error("csljson-duplicate-id",
                         f"{label} collides with item {first_index} (id "
                         f"{_safe(json.dumps(first_id, ensure_ascii=False))}): ids must differ beyond case "
                         "and number/string", **where)
            continue
        seen[folded] = (index, item["id"])
        items.append(csl.normalize(item))
    return items


# --------------------------------------------------------------------------------------------------
# Writer

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)

# Variables Zotero's CSL-JSON import keeps for every item type (else: see ZOTERO_HOLDS).
_ZOTERO_ALWAYS = frozenset({
    "id", "type", "citation-key", "title", "title-short", "shortTitle", "author", "issued",
    "accessed", "URL", "abstract", "language", "note", "archive", "archive_location",
    "call-number", "source", "custom", "keyword", "categories", "contributor", "editor",
    "translator", "DOI", "journalAbbreviation", "container-title-short",
})
# Extra variables per CSL type that have a Zotero field (the rest go to note as `Key: value`).
ZOTERO_HOLDS: dict[str, frozenset[str]] = {
    "article-journal": frozenset({"container-title", "container-title-short", "volume", "issue", "page",
                                  "ISSN", "collection-title", "part-title", "number"}),
    "article-magazine": frozenset({"container-title", "volume", "issue", "page", "ISSN"}),
    "article-newspaper": frozenset({"container-title", "publisher-place", "edition", "section", "page",
                                    "ISSN"}),
    "book": frozenset({"collection-title", "collection-number", "collection-editor", "volume",
                       "number-of-volumes", "edition", "publisher-place", "publisher", "number-of-pages",
                       "ISBN", "version"}),
    "chapter": frozenset({"container-title", "collection-title", "collection-number", "collection-editor",
                          "container-author", "volume", "number-of-volumes", "edition", "publisher-place",
                          "publisher", "page", "ISBN"}),
    "paper-conference": frozenset({"container-title", "event-title", "event", "event-place",
                                   "publisher-place", "publisher", "volume", "page", "collection-title",
                                   "collection-editor", "ISBN"}),
    "thesis": frozenset({"genre", "publisher", "publisher-place", "number-of-pages"}),
    "report": frozenset({"genre", "number", "collection-title", "collection-editor", "publisher-place",
                         "publisher", "page"}),
    "webpage": frozenset({"container-title", "genre"}),
    "software": frozenset({"collection-title", "version", "publisher-place", "publisher", "ISBN"}),
    "dataset": frozenset({"genre", "number", "version", "publisher-place", "publisher", "medium"}),
}


def _fold_name(name: dict) -> dict:
    out = dict(name)
    family = " ".join(out.pop(k) for k in ("dropping-particle", "non-dropping-particle") if out.get(k))
    if family and "family" in out:
        out["family"] = f"{family} {out['family']}"
    suffix = out.pop("suffix", None)
    if suffix:
        out["given"] = f"{out['given']}, {suffix}" if out.get("given") else suffix
    return out


def _note_value(variable: str, value) -> str:
    kind = csl.VARIABLE_KIND.get(variable)
    if kind is csl.Kind.NAME:
        return "\n".join(
            f"{variable}: "
            + (n["literal"] if n.get("literal") else f"{n.get('family', '')} || {n.get('given', '')}")
            for n in value
        )
    if kind is csl.Kind.DATE:
        try:
            return f"{variable}: {dates.to_edtf(value)}"
        except ValueError:
            return f"{variable}: {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, str):
        return f"{variable}: {value}"
    return f"{variable}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}"


def _zotero(item: dict) -> dict:
    out = dict(item)
    for variable, kind in csl.VARIABLE_KIND.items():
        if kind is csl.Kind.NAME and isinstance(out.get(variable), list):
            out[variable] = [_fold_name(n) for n in out[variable]]
        elif kind is csl.Kind.TEXT and isinstance(out.get(variable), str) and variable not in ("URL", "DOI"):
            out[variable] = out[variable].replace("&amp;", "&")
    if out.get("container-title-short") and not out.get("journalAbbreviation"):
        out["journalAbbreviation"] = out["container-title-short"]
    if out.get("event") and not out.get("event-title"):
        out["event-title"] = out["event"]
    elif out.get("event-title") and not out.get("event"):
        out["event"] = out["event-title"]
    if out.get("type") == "software":
        out["type"] = "book"  # Zotero rejects the whole file on "software"
    if isinstance(out.get("DOI"), str):
        out["DOI"] = _DOI_PREFIX.sub("", out["DOI"].strip())
    holds = ZOTERO_HOLDS.get(out.get("type"))
    lines = []
    if holds is not None:
        for variable in list(out):
            if variable in _ZOTERO_ALWAYS or variable in holds or variable not in csl.VARIABLE_KIND:
                continue
            lines.append(_note_value(variable, out.pop(variable)))
    custom = out.pop("custom", None)
    if isinstance(custom, dict):
        lines.extend(_note_value(key, value) for key, value in custom.items())
    if lines:
        out["note"] = "\n".join(([out["note"]] if out.get("note") else []) + lines)
    return out


def write(items, report, *, profile: str = "csl", **_options) -> str:
    """Serialise items as a CSL-JSON array (profile `csl` or `zotero`)."""
    return "".join(records(items, report, profile=profile))


def records(items, report, *, profile: str = "csl", **_options) -> Iterator[str]:
    """The CSL-JSON array as consecutive pieces of text, made as they are needed (for streaming)."""
    if profile not in ("csl", "zotero"):
        raise ValueError(f"unknown CSL-JSON profile {profile!r} (csl or zotero)")
    items = items if isinstance(items, list) else list(items)
    return _pieces(items, profile, report)


def _pieces(items: list, profile: str, report) -> Iterator[str]:
    if not items:
        yield "[]\n"
        return
    separator = "[\n  "
    for text in parallel.written_slices(_texts, items, report, profile):
        yield separator + text
        separator = ",\n  "
    yield "\n]\n"


def _texts(items: list, start: int, stop: int, profile: str) -> tuple[str, list]:
    """Items start..stop as array members, each indented as json.dumps(indent=2) would (this
    writer reports nothing)."""
    return ",\n  ".join(_item_text(item, profile) for item in items[start:stop]), []


def _item_text(item: dict, profile: str) -> str:
    """One item exactly as json.dumps(indent=2, ensure_ascii=False) writes it inside the array: indent=2
    makes json fall back to its pure-Python encoder, which was a quarter of a conversion."""
    if "citation-key" not in item and item.get("id") is not None:
        item = dict(item)  # normalize and _zotero build new dicts: copy only when a key is added here
        item["citation-key"] = str(item["id"])
    if profile == "zotero":
        item = _zotero(item)
    item = csl.normalize(item)
    pieces: list[str] = []
    try:
        _emit(item, pieces, "\n  ")
    except (_Unusual, RecursionError):
        # json's own rules for the rare value the fast path leaves alone; no newline is raw in JSON
        return json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  ")
    return "".join(pieces)


class _Unusual(Exception):
    """A value the fast writer leaves to json.dumps (NaN, odd key types, subclasses)."""


_encode_string = json.encoder.encode_basestring  # the C function json.dumps uses with ensure_ascii=False


def _emit(value, pieces: list[str], newline: str) -> None:
    kind = type(value)
    if kind is str:
        pieces.append(_encode_string(value))
    elif kind is dict or kind is _Object:
        if not value:
            pieces.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, member in value.items():
            if type(key) is not str:
                raise _Unusual
            if type(member) is str:  # the common leaf, written here: a call per leaf was most of the time
                pieces.append(separator + _encode_string(key) + ": " + _encode_string(member))
            else:
                pieces.append(separator + _encode_string(key) + ": ")
                _emit(member, pieces, inner)
            separator = "," + inner
        pieces.append(newline + "}")
    elif kind is list:
        if not value:
            pieces.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for member in value:
            member_kind = type(member)
            if member_kind is str:  # leaves inline, as for objects
                pieces.append(separator + _encode_string(member))
            elif member_kind is int:
                pieces.append(separator + int.__repr__(member))
            else:
                pieces.append(separator)
                _emit(member, pieces, inner)
            separator = "," + inner
        pieces.append(newline + "]")
    elif kind is int:
        pieces.append(int.__repr__(value))
    elif value is True:
        pieces.append("true")
    elif value is False:
        pieces.append("false")
    elif value is None:
        pieces.append("null")
    else:
        raise _Unusual  # floats (NaN), tuples, subclasses: json.dumps knows the rules
