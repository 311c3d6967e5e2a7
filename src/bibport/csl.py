"""The hub: CSL-JSON item vocabulary and normalisation (bottom layer, stdlib only).

An item is a plain dict with CSL's own keys. Conventions every format relies on:
- rich text (titles, container titles, notes) uses CSL's HTML-like markup only: <i>, <b>, <sup>,
  <sub>, <span class="nocase">, <span style="font-variant:small-caps;">; `&` and `<` are literal.
- names are dicts (family, given, non-dropping-particle, dropping-particle, suffix, literal);
- dates are dicts with integer `date-parts` (one part, or two for a range), or `raw`/`literal`;
- number variables (volume, page, edition...) are strings;
- `custom` holds what CSL cannot: see CUSTOM_* below.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache


class Kind(Enum):
    NAME = "name"
    DATE = "date"
    NUMBER = "number"
    TEXT = "text"


# The 45 types of the CSL 1.0.2 schema.
TYPES = (
    "article", "article-journal", "article-magazine", "article-newspaper", "bill", "book",
    "broadcast", "chapter", "classic", "collection", "dataset", "document", "entry",
    "entry-dictionary", "entry-encyclopedia", "event", "figure", "graphic", "hearing", "interview",
    "legal_case", "legislation", "manuscript", "map", "motion_picture", "musical_score", "pamphlet",
    "paper-conference", "patent", "performance", "periodical", "personal_communication", "post",
    "post-weblog", "regulation", "report", "review", "review-book", "software", "song", "speech",
    "standard", "thesis", "treaty", "webpage",
)

NAME_VARIABLES = (
    "author", "chair", "collection-editor", "compiler", "composer", "container-author",
    "contributor", "curator", "director", "editor", "editorial-director", "executive-producer",
    "guest", "host", "interviewer", "illustrator", "narrator", "organizer", "original-author",
    "performer", "producer", "recipient", "reviewed-author", "script-writer", "series-creator",
    "translator",
)

DATE_VARIABLES = ("issued", "original-date", "event-date", "accessed", "available-date", "submitted")

NUMBER_VARIABLES = (
    "chapter-number", "citation-number", "collection-number", "edition",
    "first-reference-note-number", "issue", "locator", "number", "number-of-pages",
    "number-of-volumes", "page", "page-first", "part", "printing", "supplement", "volume",
)

TEXT_VARIABLES = (
    "citation-key", "language", "journalAbbreviation", "shortTitle", "abstract", "annote", "archive",
    "archive_collection", "archive_location", "archive-place", "authority", "call-number",
    "citation-label", "collection-title", "container-title", "container-title-short", "dimensions",
    "division", "DOI", "event", "event-title", "event-place", "genre", "ISBN", "ISSN", "jurisdiction",
    "keyword", "medium", "note", "original-publisher", "original-publisher-place", "original-title",
    "part-title", "PMCID", "PMID", "publisher", "publisher-place", "references", "reviewed-genre",
    "reviewed-title", "scale", "section", "source", "status", "title", "title-short", "URL",
    "version", "volume-title", "volume-title-short", "year-suffix",
)

VARIABLE_KIND: dict[str, Kind] = {
    **{v: Kind.NAME for v in NAME_VARIABLES},
    **{v: Kind.DATE for v in DATE_VARIABLES},
    **{v: Kind.NUMBER for v in NUMBER_VARIABLES},
    **{v: Kind.TEXT for v in TEXT_VARIABLES},
}

# Name-part keys in the order we write them.
NAME_PARTS = ("family", "given", "non-dropping-particle", "dropping-particle", "suffix", "literal",
              "comma-suffix", "static-ordering", "parse-names")

# Keys inside item["custom"] that bibport itself uses.
CUSTOM_BIBTEX_FIELDS = "bibtex"      # {field: raw BibTeX value} for fields with no CSL home
CUSTOM_BIBTEX_TYPE = "bibtex-type"   # original entry type when the CSL type maps back differently
CUSTOM_RIS_TAGS = "ris"              # {TAG: [values]} for RIS tags with no CSL home
CUSTOM_ET_AL = "et-al"               # [name variables] whose BibTeX list ended in "and others"
CUSTOM_MORE_URLS = "more-urls"       # [URLs] after the first (URL), in order: RIS UR lines, BibTeX url2...

# Output order: identity first, then the schema's own order, `custom` last.
KEY_ORDER = (
    "id", "type", "citation-key", "categories", "language", "journalAbbreviation", "shortTitle",
    *NAME_VARIABLES, "accessed", "available-date", "event-date", "issued", "original-date",
    "submitted", "abstract", "annote", "archive", "archive_collection", "archive_location",
    "archive-place", "authority", "call-number", "chapter-number", "citation-number",
    "citation-label", "collection-number", "collection-title", "container-title",
    "container-title-short", "dimensions", "division", "DOI", "edition", "event", "event-title",
    "event-place", "first-reference-note-number", "genre", "ISBN", "ISSN", "issue", "jurisdiction",
    "keyword", "locator", "medium", "note", "number", "number-of-pages", "number-of-volumes",
    "original-publisher", "original-publisher-place", "original-title", "page", "page-first", "part",
    "part-title", "PMCID", "PMID", "printing", "publisher", "publisher-place", "references",
    "reviewed-genre", "reviewed-title", "scale", "section", "source", "status", "supplement", "title",
    "title-short", "URL", "version", "volume", "volume-title", "volume-title-short", "year-suffix",
    "custom",
)
_KEY_RANK = {key: rank for rank, key in enumerate(KEY_ORDER)}
_DATE_KEYS = ("date-parts", "season", "circa", "literal", "raw")


_EMPTY_TYPES = (str, list, dict)


def _is_empty(value) -> bool:
    # same as value in (None, "", [], {}) but without three comparisons for the common non-empty case
    return value is None or (not value and isinstance(value, _EMPTY_TYPES))


_PLAIN, _NAMES, _DATE, _CUSTOM = range(4)


@lru_cache(maxsize=4096)
def _plan(keys: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """(key, how to normalize its value) in output order: items share few key sets, so each set is
    sorted and classified once."""
    ordered = sorted(keys, key=lambda k: (_KEY_RANK.get(k, len(KEY_ORDER)), k))
    kinds = {Kind.NAME: _NAMES, Kind.DATE: _DATE}
    return tuple((k, _CUSTOM if k == "custom" else kinds.get(VARIABLE_KIND.get(k), _PLAIN)) for k in ordered)


@lru_cache(maxsize=1024)
def _kept_parts(keys: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    """The known keys among keys, in known's order (unknown keys are dropped)."""
    return tuple(k for k in known if k in keys)


def _normalize_name(name: dict) -> dict:
    return {k: name[k] for k in _kept_parts(tuple(name), NAME_PARTS) if not _is_empty(name[k])}


def _normalize_date(date: dict) -> dict:
    return {k: date[k] for k in _kept_parts(tuple(date), _DATE_KEYS) if not _is_empty(date[k])}


def _normalize_custom(custom: dict) -> dict:
    return {k: custom[k] for k in sorted(custom) if not _is_empty(custom[k])}


def normalize(item: dict) -> dict:
    """Drop empty values and order keys (and name/date parts) stably."""
    out = {}
    for key, how in _plan(tuple(item)):
        value = item[key]
        if value is None or (not value and isinstance(value, _EMPTY_TYPES)):  # _is_empty, inlined
            continue
        if how:
            if how == _NAMES:
                value = [_normalize_name(n) for n in value]
            elif how == _DATE:
                value = _normalize_date(value)
            else:
                value = _normalize_custom(value)
            if _is_empty(value):
                continue
        out[key] = value
    return out
