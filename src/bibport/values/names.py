"""BibTeX name lists <-> CSL name dicts (values layer: pure, no I/O).

Parsing follows BibTeX's own rules ("Tame the BeaST", bibtex.web): a name has the form
`First von Last`, `von Last, First` or `von Last, Jr, First`; words are split at whitespace, `~`
and `-` at brace depth 0; a word is a "von" word when its first letter at depth 0 (or the first
letter of a `{\\...}` special character) is lower case; the Last part is never empty.
A name that is one brace group (`{IEEE}`) is a corporate name: `{"literal": ...}`.

The name is split into parts first, then each part goes through `decode` (LaTeX -> Unicode);
one outer brace pair around a whole part is protection and is removed before decoding.
`format_name` is the inverse and adds braces (or a trailing comma) only where the plain form
would not read back as the same name.

Limits: BibTeX has one particle slot, so `dropping-particle` is written into it and reads back as
`non-dropping-particle`; a particle only survives when its last word starts lower case.
Errors: ValueError for unbalanced braces, more than two commas, a name without a Last part,
and for formatting a name with neither `family` nor `literal`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from bibport.values.latex import balanced

Decode = Callable[[str], str]
Encode = Callable[[str], str]

# After whitespace is collapsed, a single space is the only whitespace left.
_WORD_SEPARATORS = " ~-"
# Control sequences BibTeX treats as letters when it decides a word's case.
_FOREIGN_LETTERS = frozenset({"oe", "OE", "ae", "AE", "aa", "AA", "o", "O", "l", "L", "ss", "i", "j"})
# (internal part, CSL key) in parse order.
_PART_KEYS = (
    ("last",  "family"),
    ("first", "given"),
    ("von",   "non-dropping-particle"),
    ("jr",    "suffix"),
)
# CSL particle keys in the order they are spoken ("Jean de La Fontaine": de, then La).
_PARTICLE_KEYS = ("dropping-particle", "non-dropping-particle")
# Formatting attempts, least protection first: (brace family, brace given, brace suffix, trailing comma).
_ATTEMPTS = (
    (False, False, False, False), (True, False, False, False), (False, True, False, False),
    (False, False, True, False), (True, True, False, False), (True, False, True, False),
    (False, True, True, False), (True, True, True, False),
    # A family-only name in braces would read as a literal: a trailing comma keeps it a family.
    (True, False, False, True), (True, True, True, True),
)


def _collapse(text: str) -> str:
    return " ".join(text.split())


_RUNS: dict[str, re.Pattern] = {}
_PLAIN_NAME = re.compile(r"[^{}\\,~-]+")
_PLAIN_LAST_FIRST = re.compile(r"[^{}\\,~-]+,[^{}\\,~-]*")


_BRACES = re.compile(r"[{}]")


def _spans(text: str, separators: str) -> list[tuple[int, int]]:
    """(start, end) of each maximal run of non-separators at brace depth 0."""
    if "{" in text or "}" in text:
        # Mask each top-level brace group with as many non-separators: then a regex finds the runs,
        # and the Python loop visits braces only, not every character.
        pieces, depth, opened, last = [], 0, 0, 0
        for match in _BRACES.finditer(text):
            i = match.start()
            if text[i] == "{":
                if depth == 0:
                    opened = i
                depth += 1
                continue
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced braces in name")
            if depth == 0:
                pieces.append(text[last:opened])
                pieces.append("x" * (i + 1 - opened))
                last = i + 1
        if depth:
            raise ValueError("unbalanced braces in name")
        pieces.append(text[last:])
        text = "".join(pieces)
    runs = _RUNS.get(separators)
    if runs is None:
        runs = _RUNS[separators] = re.compile(f"[^{re.escape(separators)}]+" if separators else ".+", re.DOTALL)
    return [m.span() for m in runs.finditer(text)]


def _comma_segments(text: str) -> list[str]:
    if "{" not in text and "}" not in text:
        return [segment.strip() for segment in text.split(",")]  # every comma is at depth 0
    segments, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            segments.append(text[start:i].strip())
            start = i + 1
    segments.append(text[start:].strip())
    return segments


def _is_one_group(text: str) -> bool:
    if len(text) < 2 or text[0] != "{" or text[-1] != "}":
        return False
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def _is_protected(text: str) -> bool:
    """One brace group that is not a special character like `{\\'E}` (BibTeX reads those as a letter)."""
    return _is_one_group(text) and not text.startswith("{\\")


def _unwrap(part: str) -> str:
    return part[1:-1] if _is_protected(part) else part


def _special_char_case(word: str, i: int) -> bool | None:
    """Case of the special character `{\\...}` opening at word[i]; None when it has no letter."""
    j = i + 2
    if j >= len(word):
        return None
    if word[j].isalpha():
        end = j
        while end < len(word) and word[end].isalpha():
            end += 1
        command, j = word[j:end], end
    else:
        command, j = word[j], j + 1
    if command in _FOREIGN_LETTERS:
        return command[0].islower()
    depth = 1
    while j < len(word) and depth:
        ch = word[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch.isalpha():
            return ch.islower()
        j += 1
    return None


def _is_von_word(word: str) -> bool:
    depth = 0
    for i, ch in enumerate(word):
        if ch == "{":
            if depth == 0 and word.startswith("\\", i + 1):
                case = _special_char_case(word, i)
                if case is not None:
                    return case
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch.isalpha():
            return ch.islower()
    return False  # no letter outside braces: BibTeX treats the word as capitalised


def _split_von_last(segment: str) -> tuple[str, str]:
    words = _spans(segment, _WORD_SEPARATORS)
    if not words:
        raise ValueError("name has no last part")
    von_end = 0
    for k in range(len(words) - 2, -1, -1):
        if _is_von_word(segment[words[k][0]:words[k][1]]):
            von_end = k + 1
            break
    von = segment[words[0][0]:words[von_end - 1][1]] if von_end else ""
    return von, segment[words[von_end][0]:words[-1][1]]


def _split_first_von_last(segment: str) -> tuple[str, str, str]:
    words = _spans(segment, _WORD_SEPARATORS)
    if not words:
        raise ValueError("name has no last part")
    lower = [_is_von_word(segment[s:e]) for s, e in words[:-1]]
    if True in lower:
        von_start = lower.index(True)
        von_end = len(lower) - lower[::-1].index(True)
        first = segment[words[0][0]:words[von_start - 1][1]] if von_start else ""
        von = segment[words[von_start][0]:words[von_end - 1][1]]
        return first, von, segment[words[von_end][0]:words[-1][1]]
    last_start = len(words) - 1
    # No von: a hyphen joins the words before Last into it ("John Smith-Jones").
    while last_start > 0 and segment[words[last_start - 1][1]] == "-":
        last_start -= 1
    first = segment[words[0][0]:words[last_start - 1][1]] if last_start else ""
    return first, "", segment[words[last_start][0]:words[-1][1]]


@lru_cache(maxsize=65536)  # names repeat across entries; callers never mutate the dict
def _split(raw: str) -> dict[str, str]:
    """Raw (still LaTeX) parts of one name: literal, or first/von/last/jr; empty parts left out."""
    name = _collapse(raw)
    if not name:
        raise ValueError("empty name")
    if _PLAIN_NAME.fullmatch(name):
        # no braces, commas, ties, hyphens or commands: `First Last` split at spaces, as below
        words = name.split(" ")
        if not any(_is_von_word(word) for word in words[:-1]):
            first = " ".join(words[:-1])
            return {"last": words[-1], "first": first} if first else {"last": words[-1]}
    elif _PLAIN_LAST_FIRST.fullmatch(name):
        # `Last, First` with nothing to parse (the commonest form): split at the comma, as below
        last, first = (segment.strip() for segment in name.split(","))
        if last and not any(_is_von_word(word) for word in last.split(" ")[:-1]):
            return {"last": last, "first": first} if first else {"last": last}
    _spans(name, "")  # brace balance check
    if _is_protected(name):
        return {"literal": name[1:-1]}
    segments = _comma_segments(name)
    if len(segments) > 3:
        raise ValueError(f"too many commas in name {name!r}")
    if len(segments) == 1:
        first, von, last = _split_first_von_last(segments[0])
        jr = ""
    else:
        von, last = _split_von_last(segments[0])
        jr = segments[1] if len(segments) == 3 else ""
        first = segments[-1]
    parts = {"last": last, "first": first, "von": von, "jr": jr}
    return {key: inner for key, value in parts.items() if value and (inner := _unwrap(value))}


_AND_WORD = re.compile(r"(?:^| )and(?= |$)", re.IGNORECASE)


def split_names(raw: str) -> list[str]:
    """Split a BibTeX name list at depth-0 `and` words; whitespace collapsed, empty names dropped."""
    text = _collapse(raw)
    pieces = _AND_WORD.split(text)
    # Without braces every `and` word is at depth 0. With braces, when every piece is balanced no
    # split fell inside a group (the depth at each split is the sum of the pieces before it).
    if ("{" not in text and "}" not in text) or all(map(balanced, pieces)):
        return [name for part in pieces if (name := part.strip(" "))]
    names, current = [], []
    for start, end in _spans(text, " "):
        word = text[start:end]
        if word.lower() == "and":
            if current:
                names.append(" ".join(current))
            current = []
        else:
            current.append(word)
    if current:
        names.append(" ".join(current))
    return names


def parse_name(raw: str, decode: Decode) -> dict:
    """Parse one BibTeX name into a CSL name dict."""
    parts = _split(raw)
    if "literal" in parts:
        literal = decode(parts["literal"])
        return {"literal": literal} if literal else {}
    name = {}
    for part, key in _PART_KEYS:
        if part in parts and (value := decode(parts[part])):
            name[key] = value
    return name


@lru_cache(maxsize=16384)
def split_name_list(raw: str) -> tuple[tuple[str, ...], bool]:
    """Cached split_names, with `others` taken out as the et al. flag."""
    parts = split_names(raw)
    return tuple(p for p in parts if p.lower() != "others"), any(p.lower() == "others" for p in parts)


def parse_names(raw: str, decode: Decode,
                on_bad: Callable[[str, ValueError], None] | None = None,
                parse_one: Callable[[str], dict] | None = None) -> tuple[list[dict], bool]:
    """Parse a BibTeX name list; the flag is True when it contains `others` (et al.). With on_bad,
    a name BibTeX's rules cannot split (three commas, no last part) is told to on_bad and kept whole
    as one literal name instead of failing the list. parse_one, when given, stands for
    parse_name(name, decode) (a caller's memo of it)."""
    names = []
    parts, others = split_name_list(raw)
    for part in parts:
        try:
            name = parse_one(part) if parse_one is not None else parse_name(part, decode)
        except ValueError as problem:
            if on_bad is None:
                raise
            on_bad(part, problem)
            literal = decode(part)
            name = {"literal": literal} if literal else {}
        if name:
            names.append(name)
    return names, others


def _assemble(want: dict[str, str], brace_family: bool, brace_given: bool, brace_suffix: bool,
              trailing_comma: bool) -> str:
    def wrap(value: str, flag: bool) -> str:
        return "{" + value + "}" if flag else value

    last = wrap(want["last"], brace_family)
    head = f"{want['von']} {last}" if "von" in want else last
    first = wrap(want["first"], brace_given) if "first" in want else ""
    if "jr" in want:
        return f"{head}, {wrap(want['jr'], brace_suffix)}, {first}".rstrip()
    if first:
        return f"{head}, {first}"
    return head + "," if trailing_comma else head


def _reads_back(candidate: str, want: dict[str, str]) -> bool:
    try:
        if split_names(candidate) != [candidate] or candidate.lower() == "others":
            return False
        return _split(candidate) == want
    except ValueError:
        return False


def format_name(name: dict, encode: Encode) -> str:
    """Write one CSL name as a BibTeX name (`von Last, Jr, First`), braced only where needed."""
    if name.get("literal"):
        literal = _collapse(encode(name["literal"]))
        candidate = "{" + literal + "}"
        # "{\\'E}cole" would read as a special character, not as a corporate name
        return candidate if _reads_back(candidate, {"literal": literal}) else "{" + candidate + "}"
    if not name.get("family"):
        raise ValueError("name has neither family nor literal")
    particles = " ".join(name[k] for k in _PARTICLE_KEYS if name.get(k))
    values = {"last": name["family"], "first": name.get("given"), "von": particles,
              "jr": name.get("suffix")}
    want = {part: text for part, value in values.items() if value and (text := _collapse(encode(value)))}
    if "last" not in want:
        raise ValueError("name has neither family nor literal")
    plain = None
    for attempt in _ATTEMPTS:  # made one at a time: the first reads back for almost every name
        candidate = _assemble(want, *attempt)
        if _reads_back(candidate, want):
            return candidate
        plain = plain or candidate
    return plain  # e.g. an upper-case particle: BibTeX cannot say it, keep the plain form


def format_names(names: list[dict], others: bool, encode: Encode) -> str:
    """Join formatted names with ` and `, appending `and others` when the list is et al."""
    parts = [format_name(name, encode) for name in names]
    if others:
        parts.append("others")
    return " and ".join(parts)
