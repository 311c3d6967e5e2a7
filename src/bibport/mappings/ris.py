"""RIS <-> CSL tables (mappings layer: pure data, stdlib only).

Semantics follow Zotero's RIS import as measured in FACTS.md: the TY decides which variable a tag
means (T2 is the journal on JOUR but the conference on CONF), the first value of a single-valued
tag wins, and a record is plain text.

How the tag rows resolve (`write_tag`, `read_variable`): a row lists the TYs it applies to, or none
for "every TY" (a default row), minus its `exclude`. A row naming the TY beats a default row.
`direction` says whether the writer uses the row ("write"), the reader ("read") or both.
"""

from __future__ import annotations

from dataclasses import dataclass

BOTH, READ, WRITE = "both", "read", "write"


@dataclass(frozen=True)
class TypeRow:
    ty: str
    csl: str
    direction: str = BOTH
    reason: str = ""


@dataclass(frozen=True)
class TagRow:
    tag: str
    variable: str
    tys: tuple[str, ...] = ()       # () = default row: every TY not excluded
    exclude: tuple[str, ...] = ()
    direction: str = BOTH
    reason: str = ""


# --- Types -----------------------------------------------------------------------------------------
# Writing uses the BOTH/WRITE row of the CSL type; reading the BOTH/READ row of the TY.
TYPES: tuple[TypeRow, ...] = (
    TypeRow("JOUR",    "article-journal"),
    TypeRow("MGZN",    "article-magazine"),
    TypeRow("NEWS",    "article-newspaper"),
    TypeRow("GEN",     "document",            reason="generic; Zotero reads GEN as a journal article"),
    TypeRow("GEN",     "article",             WRITE, "no preprint TY: read back as document"),
    TypeRow("GEN",     "classic",             WRITE, "no TY: read back as document"),
    TypeRow("GEN",     "collection",          WRITE, "CSL collection is an archival collection: no TY"),
    TypeRow("GEN",     "entry",               WRITE, "no TY: read back as document"),
    TypeRow("GEN",     "event",               WRITE, "no TY: read back as document"),
    TypeRow("GEN",     "performance",         WRITE, "no TY: read back as document"),
    TypeRow("GEN",     "treaty",              WRITE, "no TY: read back as document"),
    TypeRow("BILL",    "bill"),
    TypeRow("BOOK",    "book"),
    TypeRow("CHAP",    "chapter"),
    TypeRow("CONF",    "paper-conference"),
    TypeRow("THES",    "thesis"),
    TypeRow("RPRT",    "report"),
    TypeRow("ELEC",    "webpage"),
    TypeRow("BLOG",    "post-weblog"),
    TypeRow("ICOMM",   "post",                reason="Zotero writes forum posts as ICOMM"),
    TypeRow("COMP",    "software"),
    TypeRow("DATA",    "dataset"),
    TypeRow("DICT",    "entry-dictionary"),
    TypeRow("ENCYC",   "entry-encyclopedia"),
    TypeRow("FIGURE",  "figure"),
    TypeRow("ART",     "graphic",             reason="Zotero artwork"),
    TypeRow("HEAR",    "hearing"),
    TypeRow("PCOMM",   "personal_communication"),
    TypeRow("PCOMM",   "interview",           WRITE, "Zotero: interview -> PCOMM; reads back as letter"),
    TypeRow("CASE",    "legal_case"),
    TypeRow("STAT",    "legislation"),
    TypeRow("STAT",    "regulation",          WRITE, "no TY for regulations: read back as legislation"),
    TypeRow("MANSCPT", "manuscript"),
    TypeRow("MAP",     "map"),
    TypeRow("MUSIC",   "musical_score"),
    TypeRow("PAMP",    "pamphlet"),
    TypeRow("PAT",     "patent"),
    TypeRow("JFULL",   "periodical"),
    TypeRow("SOUND",   "song",                reason="Zotero audio recording"),
    TypeRow("SLIDE",   "speech",              reason="Zotero presentation"),
    TypeRow("STAND",   "standard"),
    TypeRow("MPCT",    "motion_picture"),
    TypeRow("MPCT",    "broadcast",           WRITE, "Zotero: broadcast -> MPCT; reads back as film"),
    TypeRow("JOUR",    "review",              WRITE, "a journal article in RIS"),
    TypeRow("JOUR",    "review-book",         WRITE, "a journal article in RIS"),
    # Read-only TYs from EndNote, Reference Manager and publishers (Zotero's import table).
    TypeRow("ABST",    "article-journal",     READ),
    TypeRow("ADVS",    "motion_picture",      READ),
    TypeRow("AGGR",    "dataset",             READ, "aggregated database"),
    TypeRow("ANCIENT", "classic",             READ),
    TypeRow("CHART",   "graphic",             READ),
    TypeRow("CLSWK",   "classic",             READ),
    TypeRow("CPAPER",  "paper-conference",    READ),
    TypeRow("CTLG",    "book",                READ, "catalogue"),
    TypeRow("DBASE",   "dataset",             READ),
    TypeRow("EBOOK",   "book",                READ),
    TypeRow("ECHAP",   "chapter",             READ),
    TypeRow("EDBOOK",  "book",                READ, "every AU is an editor (see TAGS)"),
    TypeRow("EJOUR",   "article-journal",     READ),
    TypeRow("EQUA",    "document",            READ),
    TypeRow("GOVDOC",  "report",              READ),
    TypeRow("GRNT",    "document",            READ),
    TypeRow("INPR",    "manuscript",          READ, "in press"),
    TypeRow("LEGAL",   "legal_case",          READ),
    TypeRow("MULTI",   "motion_picture",      READ),
    TypeRow("SER",     "book",                READ),
    TypeRow("UNBILL",  "bill",                READ),
    TypeRow("UNPB",    "manuscript",          READ),
    TypeRow("UNPD",    "manuscript",          READ),
    TypeRow("VIDEO",   "motion_picture",      READ),
    TypeRow("WEB",     "webpage",             READ, "EndNote"),
)

# Zotero turns an unknown TY into a journal article: so do we, with a warning.
UNKNOWN_TY_TYPE = "article-journal"

# --- Tags ------------------------------------------------------------------------------------------
_JOURNALS = ("JOUR", "MGZN", "NEWS")
_SP_IS_TOTAL = ("BOOK", "THES")  # Zotero: SP alone on these is the page count

TAGS: tuple[TagRow, ...] = (
    # Names: "Family, Given, Suffix" one per line, or a bare literal.
    TagRow("AU", "author"),
    TagRow("A1", "author",                 direction=READ),
    TagRow("AU", "editor",              ("EDBOOK",),          direction=READ, reason="all AU: editors"),
    TagRow("A1", "editor",              ("EDBOOK",),          direction=READ),
    TagRow("A2", "editor",                 exclude=("BOOK", "RPRT", "PCOMM", "ICOMM"),
           reason="Zotero: A2 = editor on CHAP, CONF, JOUR"),
    TagRow("A2", "collection-editor",   ("BOOK", "RPRT"),     reason="Zotero: A2 = series editor here"),
    TagRow("A2", "recipient",           ("PCOMM", "ICOMM")),
    TagRow("A3", "editor",              ("BOOK",),            reason="Zotero: A3 = editor on BOOK"),
    TagRow("A3", "collection-editor",      exclude=("BOOK", "THES", "MPCT")),
    TagRow("A3", "contributor",         ("THES",)),
    TagRow("A3", "producer",            ("MPCT",)),
    TagRow("A4", "translator",             exclude=("CONF", "DATA", "MPCT")),
    TagRow("A4", "contributor",         ("CONF", "DATA", "MPCT")),
    TagRow("C2", "container-author",    ("CHAP",),            reason="Zotero: book author"),
    TagRow("ED", "editor",                 direction=READ),
    # Titles.
    TagRow("TI", "title"),
    TagRow("T1", "title",                  direction=READ),
    TagRow("CT", "title",                  direction=READ),
    TagRow("BT", "title",               ("BOOK", "MANSCPT"),  direction=READ),
    TagRow("BT", "container-title",        direction=READ),
    TagRow("ST", "title-short"),
    TagRow("T2", "container-title",     (*_JOURNALS, "CHAP", "ELEC", "BLOG", "DICT", "ENCYC", "ICOMM")),
    TagRow("T2", "event-title",         ("CONF", "SLIDE"),    reason="event-title, else event"),
    TagRow("T2", "collection-title",    ("BOOK", "RPRT", "COMP", "MAP"), reason="T2 is the series on these"),
    TagRow("T2", "container-title",        direction=READ,    reason="Zotero's fallback publication title"),
    TagRow("T3", "collection-title",    ("CHAP", "CONF", "JOUR")),
    TagRow("T3", "collection-title",       direction=READ),
    TagRow("C3", "container-title",     ("CONF",),            reason="proceedings title; never J2 on CONF"),
    TagRow("J2", "container-title-short", _JOURNALS,          reason="Zotero copies J2 over C3 elsewhere"),
    TagRow("J2", "container-title-short",  direction=READ),
    TagRow("JO", "event-title",         ("CONF",),            direction=READ),
    TagRow("JO", "container-title-short",  direction=READ,    reason="Zotero reads JO as the abbreviation"),
    TagRow("JA", "container-title-short",  direction=READ),
    TagRow("J1", "container-title-short",  direction=READ),
    TagRow("JF", "container-title",        direction=READ),
    # Places and publishers.
    TagRow("C1", "event-place",         ("CONF",),            reason="event-place, else publisher-place"),
    TagRow("CY", "publisher-place"),
    TagRow("PB", "publisher"),
    # Numbers.
    TagRow("VL", "volume"),
    TagRow("IS", "issue",                  exclude=("CHAP",)),
    TagRow("IS", "number-of-volumes",   ("CHAP",),            reason="Zotero: IS on CHAP = volume count"),
    TagRow("NV", "number-of-volumes",      exclude=("CHAP",)),
    TagRow("NV", "number-of-volumes",   ("CHAP",),            direction=READ),
    TagRow("ET", "edition",             ("BOOK", "CHAP", "DICT", "ENCYC", "MAP", "NEWS"),
           reason="ET only on types with an edition"),
    TagRow("ET", "version",             ("COMP", "DATA")),
    TagRow("ET", "edition",                direction=READ),
    TagRow("M1", "collection-number",   ("BOOK",)),
    TagRow("SV", "collection-number",   ("CHAP",)),
    TagRow("M1", "number",              ("BILL", "HEAR")),
    TagRow("SE", "section"),
    TagRow("SP", "page",                   exclude=_SP_IS_TOTAL, reason="SP = start, EP = end"),
    TagRow("EP", "page",                   exclude=_SP_IS_TOTAL),
    TagRow("SP", "number-of-pages",     _SP_IS_TOTAL,         reason="Zotero: SP = page total here"),
    # Identifiers.
    TagRow("SN", "ISBN",                   exclude=(*_JOURNALS, "RPRT", "PAT"),
           reason="one SN line: several ISBNs space-separated"),
    TagRow("SN", "ISSN",                _JOURNALS),
    TagRow("SN", "number",              ("RPRT", "PAT"),      reason="report or patent number"),
    TagRow("DO", "DOI",                                       reason="bare DOI"),
    TagRow("UR", "URL",                                       reason="first UR only; L1/L2/L4 = files"),
    TagRow("AN", "archive_location",                          reason="Zotero reads AN as archive location"),
    TagRow("DB", "archive"),
    TagRow("DP", "source",                                    reason="Zotero's library catalog"),
    TagRow("CN", "call-number"),
    TagRow("M3", "genre",               ("THES", "RPRT", "ELEC", "BLOG", "MANSCPT", "MAP", "PCOMM", "SLIDE",
                                         "ART")),
    TagRow("M3", "genre",                  direction=READ,    reason="EndNote work type; a DOI -> DO"),
    # Dates.
    TagRow("DA", "issued",                                    reason="YYYY/MM/DD/, empty parts left empty"),
    TagRow("PY", "issued",                                    reason="year only; DA wins when both"),
    TagRow("Y1", "issued",                 direction=READ,    reason="old RIS spec"),
    TagRow("Y2", "accessed"),
    # Text.
    TagRow("AB", "abstract"),
    TagRow("N2", "abstract",               direction=READ),
    TagRow("N1", "note"),
    TagRow("RN", "note",                   direction=READ,    reason="EndNote research notes"),
    TagRow("KW", "keyword",                                   reason="one keyword per line"),
    TagRow("LA", "language",                                  reason="stored verbatim"),
)

# --- Tag lines --------------------------------------------------------------------------------------
# The spec's tag line: two characters, two spaces, a hyphen, a space, the value (`ER  -` may end there).
TAG_LINE = r"(?P<tag>[A-Z][A-Z0-9])  -(?: (?P<value>.*))?"


@dataclass(frozen=True)
class NearMissRow:
    shape: str       # regex matched against the whole line (trailing blanks removed)
    any_tag: bool    # False: only a tag the tables know (its upper case); otherwise the line is text
    reason: str


# Lines that are not TAG_LINE but are read as a tag line, with a warning (first matching row wins).
# Anything else is text: inside a record it continues the previous value (EndNote wraps long values).
# Wrapped prose decides the limits: a line of an abstract may start `is - surprisingly` or `CT-guided`,
# so a lower-case tag needs the spec's two spaces, and a hyphen right after the tag is a compound word.
NEAR_MISS_TAG_LINES: tuple[NearMissRow, ...] = (
    NearMissRow(r"(?P<tag>[A-Z][A-Z0-9]) -(?: (?P<value>.*))?", True,  # Zotero's reader takes it too
                "one space before the hyphen, as in old EndNote exports"),
    NearMissRow(r"(?P<tag>[A-Z][A-Z0-9])[ \t]+-[ \t]?(?P<value>.*)", False,
                "a tab, or the wrong number of spaces, around the hyphen"),
    NearMissRow(r"(?P<tag>[A-Za-z][A-Za-z0-9])  -(?: (?P<value>.*))?", False,
                "a tag in lower case"),
)

# Tags that may appear many times; everything else is single-valued (the first wins).
REPEATABLE = ("AU", "A1", "A2", "A3", "A4", "C2", "ED", "KW", "SN", "UR", "N1", "RN", "ID",
              "L1", "L2", "L3", "L4")

# Tags with no CSL home that exporters write routinely: kept in custom.ris without a warning.
QUIET_TAGS = ("ID", "L1", "L2", "L3", "L4", "AD", "CA", "LB", "RP", "M2", "TA", "TT", "OP", "RI",
              "C4", "C5", "C6", "C7", "C8", "H1", "H2", "AV", "CR")

# Order of tags in a written record (TY first and ER last are implicit).
TAG_ORDER = ("TI", "AU", "T2", "A2", "T3", "A3", "A4", "C2", "AB", "C1", "C3", "CN", "CY", "DA",
             "PY", "DO", "DP", "ET", "VL", "IS", "SP", "EP", "J2", "LA", "M1", "M3", "NV", "PB",
             "SE", "SN", "ST", "SV", "UR", "AN", "DB", "Y2", "N1", "KW", "ID")

# Variables RIS cannot carry at all (the writer warns when an item has one).
LOSSES: tuple[tuple[str, str], ...] = (
    ("annote",                    "no RIS tag (N1 is the note)"),
    ("archive_collection",        "no RIS tag"),
    ("archive-place",             "no RIS tag"),
    ("authority",                 "no RIS tag"),
    ("available-date",            "RIS has one publication date"),
    ("categories",                "no RIS tag (KW holds keyword)"),
    ("chair",                     "no RIS name tag for this role"),
    ("chapter-number",            "no RIS tag"),
    ("citation-label",            "no RIS tag"),
    ("citation-number",           "computed by citation processors"),
    ("compiler",                  "no RIS name tag for this role"),
    ("composer",                  "no RIS name tag for this role"),
    ("curator",                   "no RIS name tag for this role"),
    ("dimensions",                "no RIS tag"),
    ("director",                  "no RIS name tag for this role"),
    ("division",                  "no RIS tag"),
    ("editorial-director",        "no RIS name tag for this role"),
    ("event-date",                "RIS has one publication date"),
    ("executive-producer",        "no RIS name tag for this role"),
    ("first-reference-note-number", "computed by citation processors"),
    ("guest",                     "no RIS name tag for this role"),
    ("host",                      "no RIS name tag for this role"),
    ("illustrator",               "no RIS name tag for this role"),
    ("interviewer",               "no RIS name tag for this role"),
    ("journalAbbreviation",       "Zotero alias: container-title-short is written instead"),
    ("jurisdiction",              "no RIS tag"),
    ("locator",                   "citation-level, not item data"),
    ("medium",                    "no RIS tag"),
    ("narrator",                  "no RIS name tag for this role"),
    ("organizer",                 "no RIS name tag for this role"),
    ("original-author",           "no RIS name tag for this role"),
    ("original-date",             "RIS has one publication date"),
    ("original-publisher",        "no RIS tag"),
    ("original-publisher-place",  "no RIS tag"),
    ("original-title",            "no RIS tag (OP is free text)"),
    ("page-first",                "derived from page"),
    ("part",                      "no RIS tag"),
    ("part-title",                "no RIS tag"),
    ("performer",                 "no RIS name tag for this role"),
    ("PMCID",                     "no RIS tag"),
    ("PMID",                      "no RIS tag (exporters disagree: AN, M1, C2)"),
    ("printing",                  "no RIS tag"),
    ("references",                "no RIS tag"),
    ("reviewed-author",           "no RIS name tag for this role"),
    ("reviewed-genre",            "no RIS tag"),
    ("reviewed-title",            "no RIS tag"),
    ("scale",                     "no RIS tag"),
    ("script-writer",             "no RIS name tag for this role"),
    ("series-creator",            "no RIS name tag for this role"),
    ("shortTitle",                "Zotero alias: title-short (ST) is written instead"),
    ("status",                    "no RIS tag"),
    ("submitted",                 "RIS has one publication date"),
    ("supplement",                "no RIS tag"),
    ("volume-title",              "no RIS tag"),
    ("volume-title-short",        "no RIS tag"),
    ("year-suffix",               "computed by citation processors"),
)

# Losses of form rather than of a whole variable (documented for the README and the tests).
PARTIAL_LOSSES: tuple[tuple[str, str], ...] = (
    ("markup",              "RIS is plain text: <i>, <b>, <sup>, <sub>, nocase spans are stripped"),
    ("whitespace",          "newlines, tabs and runs of spaces fold to one space; controls are dropped"),
    ("dropping-particle",   "written in front of the family name, read back as non-dropping-particle"),
    ("name particles",      "read back as non-dropping-particle when lower-case words lead the family"),
    ("literal names",       "a literal name with a comma reads back as Family, Given; a name with no "
                            "family reads back as a literal"),
    ("dates",               "one date: the end of a range and circa are dropped; seasons only on years; "
                            "a literal publication date stays text in custom.ris DA"),
    ("keyword",             "a keyword containing ',' or ';' is split into several"),
    ("ISBN",                "several ISBNs (or ISSNs) go on one SN line, space-separated"),
    ("container-title-short", "J2 without a T2 reads back as the container-title too (as Zotero does)"),
    ("event",               "T2 on CONF only without event-title; reads back as event-title"),
    ("event-place",         "on CONF, equal to publisher-place: reads back as publisher-place"),
    ("typed variables",     "a variable with no tag for its TY (e.g. edition on JOUR, ISSN on BOOK, "
                            "container-title-short outside JOUR/MGZN/NEWS) is dropped with a warning"),
    ("page",                "on BOOK and THES SP is the page total: page ranges are dropped with a warning"),
    ("types",               "several CSL types share a TY (see TYPES rows marked write)"),
    ("custom",              "custom values other than custom.ris and custom.more-urls (written as further UR "
                            "lines) have no RIS home"),
    ("keys",                "a citation key that is not a safe file stem (a letter, then letters, digits and "
                            "_:.+-) is not written as ID: reading generates a new key"),
)

CSL_TO_TY = {row.csl: row.ty for row in TYPES if row.direction in (BOTH, WRITE)}
TY_TO_CSL = {row.ty: row.csl for row in TYPES if row.direction in (BOTH, READ)}


def _applies(row: TagRow, ty: str) -> bool:
    return ty in row.tys if row.tys else ty not in row.exclude


def write_tag(ty: str, variable: str) -> str | None:
    """The tag the writer uses for `variable` on a record of type `ty` (None: no home)."""
    rows = [r for r in TAGS if r.variable == variable and r.direction in (BOTH, WRITE) and _applies(r, ty)]
    rows.sort(key=lambda r: not r.tys)  # a row naming the TY beats a default row
    return rows[0].tag if rows else None


def read_variable(tag: str, *tys: str) -> str | None:
    """The variable `tag` means on a record whose TY (then canonical TY...) is `tys` (None: unknown)."""
    rows = [r for r in TAGS if r.tag == tag and r.direction in (BOTH, READ)]
    for ty in tys:
        for row in rows:
            if row.tys and ty in row.tys:
                return row.variable
    for row in rows:
        if not row.tys and not any(ty in row.exclude for ty in tys):
            return row.variable
    return None


def known_tags() -> frozenset[str]:
    """Every tag some row reads."""
    return frozenset(r.tag for r in TAGS if r.direction in (BOTH, READ))


def line_tags() -> frozenset[str]:
    """Every tag a record may hold that the tables name: TY, ER, the tags read, the quiet ones."""
    return known_tags() | frozenset(("TY", "ER", *REPEATABLE, *QUIET_TAGS))
