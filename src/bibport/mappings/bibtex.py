"""BibTeX/biblatex <-> CSL tables (mappings layer: pure data, no logic beyond lookups).

Reading: entry type -> CSL type (TYPES_IN), field -> variable (FIELDS_IN, first row whose CSL types
match wins; a later field aiming at a variable already filled goes to `custom` instead, never dropped).
Writing: CSL type -> entry type per dialect (TYPES_OUT), variable -> field per dialect (FIELDS_OUT),
then FIELD_ORDER. Languages: babel/polyglossia names <-> BCP 47 (LANGUAGES).
"""

from __future__ import annotations

from dataclasses import dataclass

from bibport import csl

# How a field's value is converted (see formats.bibtex).
RICH = "rich"          # LaTeX -> CSL rich text, braces become nocase spans
PLAIN = "plain"        # LaTeX -> Unicode, braces vanish (places, publishers, numbers)
VERBATIM = "verbatim"  # no LaTeX decoding (URLs, DOIs, identifiers)
NAMES = "names"
PAGES = "pages"
EDTF = "edtf"          # biblatex ISO 8601/EDTF date field
LANG = "language"
KEYWORDS = "keywords"
DOI = "doi"
ANY = ()               # a row that applies to every entry type


@dataclass(frozen=True)
class TypeIn:
    entry_type: str
    csl_type: str
    genre: str | None = None  # default genre for thesis flavours
    note: str = ""


TYPES_IN = (
    TypeIn("article",        "article-journal"),
    TypeIn("book",           "book"),
    TypeIn("mvbook",         "book",              note="multi-volume: volumes in number-of-volumes"),
    TypeIn("inbook",         "chapter"),
    TypeIn("bookinbook",     "chapter",           note="lossy: a book inside a book reads as a chapter"),
    TypeIn("suppbook",       "chapter",           note="lossy: supplement read as a chapter"),
    TypeIn("booklet",        "pamphlet"),
    TypeIn("collection",     "book",              note="edited book: editors carry it"),
    TypeIn("mvcollection",   "book"),
    TypeIn("incollection",   "chapter"),
    TypeIn("suppcollection", "chapter"),
    TypeIn("dataset",        "dataset"),
    TypeIn("manual",         "report",            note="CSL has no manual; technical documentation is closest to report"),
    TypeIn("misc",           "document",          note="becomes webpage when it has a URL and nothing to publish it"),
    TypeIn("online",         "webpage"),
    TypeIn("electronic",     "webpage",           note="old biblatex alias of online"),
    TypeIn("www",            "webpage",           note="old biblatex alias of online"),
    TypeIn("patent",         "patent"),
    TypeIn("periodical",     "periodical"),
    TypeIn("suppperiodical", "article-journal"),
    TypeIn("proceedings",    "book",              note="CSL has no proceedings volume type"),
    TypeIn("mvproceedings",  "book"),
    TypeIn("inproceedings",  "paper-conference"),
    TypeIn("conference",     "paper-conference",  note="classic alias of inproceedings"),
    TypeIn("reference",      "book"),
    TypeIn("mvreference",    "book"),
    TypeIn("inreference",    "entry-encyclopedia"),
    TypeIn("report",         "report"),
    TypeIn("techreport",     "report",            "Technical report"),
    TypeIn("software",       "software"),
    TypeIn("thesis",         "thesis"),
    TypeIn("mastersthesis",  "thesis",            "Master's thesis"),
    TypeIn("phdthesis",      "thesis",            "PhD thesis"),
    TypeIn("unpublished",    "manuscript"),
    TypeIn("artwork",        "graphic"),
    TypeIn("image",          "graphic"),
    TypeIn("audio",          "song"),
    TypeIn("music",          "song"),
    TypeIn("video",          "motion_picture"),
    TypeIn("movie",          "motion_picture"),
    TypeIn("letter",         "personal_communication"),
    TypeIn("legislation",    "legislation"),
    TypeIn("jurisdiction",   "legal_case"),
    TypeIn("legal",          "legislation"),
    TypeIn("standard",       "standard"),
    TypeIn("review",         "review"),
    TypeIn("commentary",     "article-journal",   note="lossy: commentary read as an article"),
    TypeIn("performance",    "performance"),
)
TYPE_IN = {row.entry_type: row for row in TYPES_IN}

# biblatex `entrysubtype` refines @article and carries CSL types that BibTeX has no entry type for.
SUBTYPE_IN = {"magazine": "article-magazine", "newspaper": "article-newspaper"}

# Entry types that only exist to be inherited from.
NON_CITABLE = ("xdata", "set")


# What BibTeX's `number` means depends on the kind of work.
NUMBER_IS_ISSUE = ("article-journal", "article-magazine", "article-newspaper", "article", "review",
                   "periodical")
NUMBER_IS_NUMBER = ("report", "patent", "standard", "legislation", "regulation", "bill", "dataset",
                    "software")
NUMBER_IS_SERIES_NUMBER = tuple(t for t in csl.TYPES if t not in NUMBER_IS_ISSUE + NUMBER_IS_NUMBER)
# A whole volume (@book, @proceedings, @collection ...) is no part of a container: its booktitle is
# the classic crossref idiom (repeating the title for the entries that cross-reference it, which
# inherit it as their container), kept in custom without a warning.
WHOLE_VOLUME = "book"
IN_A_BOOK = tuple(t for t in csl.TYPES if t != WHOLE_VOLUME)
QUIET_CUSTOM = frozenset({("booktitle", WHOLE_VOLUME)})  # (field, CSL type)

# A CSL variable with no BibTeX field is written as `csl-<variable>` and read back from it:
# BibTeX, biber and Zotero skip fields they do not know, so nothing is lost on the way.
CSL_FIELD_PREFIX = "csl-"

# BibTeX's url holds one URL (biblatex's too): the others (custom `more-urls`, e.g. a record's further
# RIS UR lines) are written as url2, url3, ... in order, and read back in their numbers' order. BibTeX,
# biber and Zotero skip these fields like any field they do not know.
MORE_URL_FIELD = "url{}"
FIRST_MORE_URL = 2


@dataclass(frozen=True)
class FieldIn:
    field: str
    variable: str
    kind: str
    types: tuple[str, ...] = ANY  # CSL types (of the entry being read) the row applies to
    note: str = ""


FIELDS_IN = (
    FieldIn("author",       "author",             NAMES),
    FieldIn("editor",       "editor",             NAMES),
    FieldIn("translator",   "translator",         NAMES),
    FieldIn("bookauthor",   "container-author",   NAMES),
    FieldIn("title",        "title",              RICH),
    FieldIn("shorttitle",   "title-short",        RICH),
    FieldIn("booktitle",    "container-title",    RICH, IN_A_BOOK,
            "on a whole volume: kept in custom (styles would print it as 'In <booktitle>')"),
    FieldIn("journaltitle", "container-title",    RICH),
    FieldIn("journal",      "container-title",    RICH),
    FieldIn("shortjournal", "container-title-short", RICH),
    FieldIn("series",       "collection-title",   RICH),
    FieldIn("eventtitle",   "event-title",        RICH),
    FieldIn("origtitle",    "original-title",     RICH),
    FieldIn("volume",       "volume",             PLAIN),
    FieldIn("volumes",      "number-of-volumes",  PLAIN),
    FieldIn("number",       "issue",              PLAIN, NUMBER_IS_ISSUE,
            "BibTeX number on a journal article is its issue"),
    FieldIn("number",       "number",             PLAIN, NUMBER_IS_NUMBER, "report/patent/standard number"),
    FieldIn("number",       "collection-number",  PLAIN, note="elsewhere: number within the series"),
    FieldIn("issue",        "issue",              PLAIN),
    FieldIn("chapter",      "chapter-number",     PLAIN),
    FieldIn("pages",        "page",               PAGES),
    FieldIn("pagetotal",    "number-of-pages",    PLAIN),
    FieldIn("edition",      "edition",            PLAIN),
    FieldIn("version",      "version",            PLAIN),
    FieldIn("publisher",    "publisher",          PLAIN),
    FieldIn("school",       "publisher",          PLAIN, note="CSL has no school: the degree grantor publishes"),
    FieldIn("institution",  "publisher",          PLAIN, note="CSL has no institution: it publishes the report"),
    FieldIn("organization", "publisher",          PLAIN, note="only when nothing else names the publisher"),
    FieldIn("howpublished", "publisher",          PLAIN, note="free text; a \\url{} in it becomes URL"),
    FieldIn("location",     "publisher-place",    PLAIN),
    FieldIn("address",      "publisher-place",    PLAIN),
    FieldIn("venue",        "event-place",        PLAIN),
    FieldIn("origpublisher", "original-publisher", PLAIN),
    FieldIn("origlocation", "original-publisher-place", PLAIN),
    FieldIn("date",         "issued",             EDTF),
    FieldIn("eventdate",    "event-date",         EDTF),
    FieldIn("urldate",      "accessed",           EDTF),
    FieldIn("origdate",     "original-date",      EDTF),
    FieldIn("doi",          "DOI",                DOI),
    FieldIn("url",          "URL",                VERBATIM),
    FieldIn("isbn",         "ISBN",               VERBATIM),
    FieldIn("issn",         "ISSN",               VERBATIM),
    FieldIn("pmid",         "PMID",               VERBATIM),
    FieldIn("pmcid",        "PMCID",              VERBATIM),
    FieldIn("eprinttype",   "archive",            PLAIN, note="CSL has no eprint: archive + location carry it"),
    FieldIn("archiveprefix", "archive",           PLAIN, note="arXiv's own name for eprinttype"),
    FieldIn("eprint",       "archive_location",   VERBATIM),
    FieldIn("langid",       "language",           LANG),
    FieldIn("language",     "language",           LANG),
    FieldIn("keywords",     "keyword",            KEYWORDS),
    FieldIn("abstract",     "abstract",           RICH),
    FieldIn("note",         "note",               RICH),
    FieldIn("annote",       "annote",             RICH),
    FieldIn("annotation",   "annote",             RICH),
    FieldIn("type",         "genre",              PLAIN),
    FieldIn("pubstate",     "status",             PLAIN),
    FieldIn("library",      "call-number",        PLAIN),
)

# Fields joined onto another field's value before mapping ("Title: Subtitle").
JOINED_FIELDS = (
    ("subtitle", "title"),
    ("booksubtitle", "booktitle"),
    ("journalsubtitle", "journaltitle"),
)

# Date parts read together into `issued` (biblatex `date` wins when both are given).
CLASSIC_DATE_FIELDS = ("year", "month", "day")

# Fields consumed by the reader itself.
STRUCTURAL_FIELDS = ("crossref", "xdata", "entrysubtype")


# ---------------------------------------------------------------- writing

BIBTEX = "bibtex"
BIBLATEX = "biblatex"
DIALECTS = (BIBTEX, BIBLATEX)


@dataclass(frozen=True)
class TypeOut:
    csl_type: str
    bibtex: str
    biblatex: str
    subtype: str | None = None  # written as entrysubtype so the CSL type survives
    note: str = ""


TYPES_OUT = (
    TypeOut("article-journal",   "article",       "article"),
    TypeOut("article-magazine",  "article",       "article",       "magazine"),
    TypeOut("article-newspaper", "article",       "article",       "newspaper"),
    TypeOut("article",           "article",       "article",       "article",  "preprint-like article"),
    TypeOut("book",              "book",          "book"),
    TypeOut("chapter",           "incollection",  "incollection"),
    TypeOut("paper-conference",  "inproceedings", "inproceedings"),
    TypeOut("report",            "techreport",    "report"),
    TypeOut("thesis",            "phdthesis",     "thesis",        note="bibtex: mastersthesis when the genre says so"),
    TypeOut("webpage",           "misc",          "online"),
    TypeOut("manuscript",        "unpublished",   "unpublished"),
    TypeOut("pamphlet",          "booklet",       "booklet"),
    TypeOut("dataset",           "misc",          "dataset",       "dataset"),
    TypeOut("software",          "misc",          "software",      "software"),
    TypeOut("patent",            "misc",          "patent",        "patent"),
    TypeOut("periodical",        "misc",          "periodical",    "periodical"),
    TypeOut("entry-encyclopedia", "incollection", "inreference",   "entry-encyclopedia"),
    TypeOut("entry-dictionary",  "incollection",  "inreference",   "entry-dictionary"),
    TypeOut("standard",          "misc",          "standard",      "standard"),
    TypeOut("legislation",       "misc",          "legislation",   "legislation"),
    TypeOut("legal_case",        "misc",          "jurisdiction",  "legal_case"),
    TypeOut("graphic",           "misc",          "artwork",       "graphic"),
    TypeOut("song",              "misc",          "audio",         "song"),
    TypeOut("motion_picture",    "misc",          "video",         "motion_picture"),
    TypeOut("personal_communication", "misc",     "letter",        "personal_communication"),
    TypeOut("review",            "article",       "review",        "review"),
    TypeOut("performance",       "misc",          "performance",   "performance"),
    TypeOut("document",          "misc",          "misc"),
)
TYPE_OUT = {row.csl_type: row for row in TYPES_OUT}
# Every other CSL type is written as @misc with entrysubtype = the CSL type.
FALLBACK_TYPE = "misc"

# BibTeX's thesis flavour follows the genre.
MASTERS_GENRES = ("master's thesis", "masters thesis", "mathesis", "master thesis", "msc thesis")


@dataclass(frozen=True)
class FieldOut:
    variable: str
    bibtex: str | None    # None: the dialect has no field for it
    biblatex: str | None
    kind: str
    types: tuple[str, ...] = ANY  # CSL types the row applies to (first match wins)
    note: str = ""


FIELDS_OUT = (
    FieldOut("author",            "author",       "author",       NAMES),
    FieldOut("editor",            "editor",       "editor",       NAMES),
    FieldOut("translator",        "translator",   "translator",   NAMES),
    FieldOut("container-author",  "bookauthor",   "bookauthor",   NAMES),
    FieldOut("title",             "title",        "title",        RICH),
    FieldOut("title-short",       "shorttitle",   "shorttitle",   RICH),
    FieldOut("container-title",   "journal",      "journaltitle", RICH,
             ("article-journal", "article-magazine", "article-newspaper", "article", "review",
              "periodical")),
    FieldOut("container-title",   None,           None,           RICH, (WHOLE_VOLUME,),
             "a whole volume's booktitle is read as the crossref idiom, not as a container"),
    FieldOut("container-title",   "booktitle",    "booktitle",    RICH),
    FieldOut("container-title-short", "shortjournal", "shortjournal", RICH),
    FieldOut("collection-title",  "series",       "series",       RICH),
    FieldOut("event-title",       "eventtitle",   "eventtitle",   RICH),
    FieldOut("original-title",    "origtitle",    "origtitle",    RICH),
    FieldOut("volume",            "volume",       "volume",       PLAIN),
    FieldOut("number-of-volumes", "volumes",      "volumes",      PLAIN),
    FieldOut("issue",             "number",       "number",       PLAIN, NUMBER_IS_ISSUE),
    FieldOut("issue",             "issue",        "issue",        PLAIN),
    FieldOut("number",            "number",       "number",       PLAIN, NUMBER_IS_NUMBER),
    FieldOut("collection-number", "number",       "number",       PLAIN, NUMBER_IS_SERIES_NUMBER),
    FieldOut("event",             "eventtitle",   "eventtitle",   RICH,
             note="the pre-1.0.2 name of event-title: written when event-title is absent"),
    FieldOut("chapter-number",    "chapter",      "chapter",      PLAIN),
    FieldOut("page",              "pages",        "pages",        PAGES),
    FieldOut("number-of-pages",   "pagetotal",    "pagetotal",    PLAIN),
    FieldOut("edition",           "edition",      "edition",      PLAIN),
    FieldOut("version",           "version",      "version",      PLAIN),
    FieldOut("publisher",         "school",       "institution",  PLAIN, ("thesis",)),
    FieldOut("publisher",         "institution",  "institution",  PLAIN, ("report",)),
    FieldOut("publisher",         "publisher",    "publisher",    PLAIN),
    FieldOut("publisher-place",   "address",      "location",     PLAIN),
    FieldOut("event-place",       "venue",        "venue",        PLAIN),
    FieldOut("original-publisher", "origpublisher", "origpublisher", PLAIN),
    FieldOut("original-publisher-place", "origlocation", "origlocation", PLAIN),
    FieldOut("issued",            None,           "date",         EDTF, note="bibtex: year/month/day"),
    FieldOut("event-date",        "eventdate",    "eventdate",    EDTF),
    FieldOut("accessed",          "urldate",      "urldate",      EDTF),
    FieldOut("original-date",     "origdate",     "origdate",     EDTF),
    FieldOut("genre",             "type",         "type",         PLAIN),
    FieldOut("status",            "pubstate",     "pubstate",     PLAIN),
    FieldOut("archive",           "eprinttype",   "eprinttype",   PLAIN),
    FieldOut("archive_location",  "eprint",       "eprint",       VERBATIM),
    FieldOut("ISBN",              "isbn",         "isbn",         VERBATIM),
    FieldOut("ISSN",              "issn",         "issn",         VERBATIM),
    FieldOut("DOI",               "doi",          "doi",          DOI),
    FieldOut("URL",               "url",          "url",          VERBATIM),
    FieldOut("PMID",              "pmid",         "pmid",         VERBATIM),
    FieldOut("PMCID",             "pmcid",        "pmcid",        VERBATIM),
    FieldOut("call-number",       "library",      "library",      PLAIN),
    FieldOut("language",          "langid",       "langid",       LANG),
    FieldOut("keyword",           "keywords",     "keywords",     KEYWORDS),
    FieldOut("abstract",          "abstract",     "abstract",     RICH),
    FieldOut("note",              "note",         "note",         RICH),
    FieldOut("annote",            "annote",       "annotation",   RICH),
)

# CSL-JSON's alternative names (Zotero writes both): written once, under the variable they alias.
VARIABLE_ALIASES = {"journalAbbreviation": "container-title-short", "shortTitle": "title-short"}

# Variables BibTeX does not keep as they are. Everything else without a row above is written as a
# `csl-<variable>` field (CSL_FIELD_PREFIX) and read back unchanged.
LOSSES = (
    ("citation-key", "becomes the entry key"),
    ("id", "becomes the entry key"),
)

# What survives, but not in the same form (the round-trip tests apply one step per row).
PARTIAL_LOSSES = (
    ("whitespace", "LaTeX folds newlines and runs of spaces into one space"),
    ("event", "event and event-title are one eventtitle field when equal (or when only event is "
              "given), read back into both"),
    ("dates", "the bibtex dialect's year/month/day keep only a date's start (biblatex keeps all)"),
    ("name particles", "BibTeX has one particle slot: a dropping-particle reads back as non-dropping"),
    ("keyword", "keywords are re-joined with ', '"),
    ("genre", "a thesis/report type's default genre is implied by the entry type and read back"),
    ("types", "CSL document/webpage both become @misc; a URL with no publisher reads back as webpage"),
    ("aliases", "journalAbbreviation/shortTitle read back as container-title-short/title-short"),
)

# Output field order, the same for every entry type (unknown fields follow, alphabetically).
FIELD_ORDER = (
    "author", "editor", "bookauthor", "translator", "title", "shorttitle", "booktitle", "journal",
    "journaltitle", "shortjournal", "series", "eventtitle", "eventdate", "venue", "origtitle",
    "volume", "volumes", "number", "issue", "chapter", "pages", "pagetotal", "edition", "version",
    "type", "school", "institution", "publisher", "organization", "address", "location",
    "origpublisher", "origlocation", "year", "month", "day", "date", "origdate", "isbn", "issn",
    "doi", "eprinttype", "eprint", "url", *(MORE_URL_FIELD.format(n) for n in range(FIRST_MORE_URL, 10)),
    "urldate", "pmid", "pmcid", "library", "pubstate",
    "langid", "keywords", "entrysubtype", "crossref", "abstract", "note", "annote", "annotation",
)

MONTH_MACROS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Language:
    babel: str   # the name biblatex/babel uses (written as langid)
    tag: str     # BCP 47
    aliases: tuple[str, ...] = ()


LANGUAGES = (
    Language("english",    "en", ("en", "eng")),
    Language("american",   "en-US", ("usenglish", "en-us")),
    Language("british",    "en-GB", ("ukenglish", "en-gb")),
    Language("canadian",   "en-CA"),
    Language("australian", "en-AU"),
    Language("french",     "fr", ("francais", "français", "fr", "fre", "fra")),
    Language("ngerman",    "de", ("german", "deutsch", "de", "ger", "deu")),
    Language("austrian",   "de-AT", ("naustrian",)),
    Language("swissgerman", "de-CH", ("nswissgerman",)),
    Language("spanish",    "es", ("español", "es", "spa")),
    Language("italian",    "it", ("it", "ita")),
    Language("portuguese", "pt", ("portuges", "pt", "por")),
    Language("brazil",     "pt-BR", ("brazilian",)),
    Language("dutch",      "nl", ("nl", "nld", "dut")),
    Language("swedish",    "sv"),
    Language("danish",     "da"),
    Language("norsk",      "nb", ("norwegian", "bokmal")),
    Language("nynorsk",    "nn"),
    Language("finnish",    "fi"),
    Language("polish",     "pl"),
    Language("czech",      "cs"),
    Language("slovak",     "sk"),
    Language("slovene",    "sl", ("slovenian",)),
    Language("croatian",   "hr"),
    Language("serbian",    "sr"),
    Language("hungarian",  "hu", ("magyar",)),
    Language("romanian",   "ro"),
    Language("bulgarian",  "bg"),
    Language("russian",    "ru"),
    Language("ukrainian",  "uk"),
    Language("greek",      "el"),
    Language("turkish",    "tr"),
    Language("hebrew",     "he"),
    Language("arabic",     "ar"),
    Language("catalan",    "ca"),
    Language("basque",     "eu"),
    Language("galician",   "gl"),
    Language("latin",      "la"),
    Language("estonian",   "et"),
    Language("latvian",    "lv"),
    Language("lithuanian", "lt"),
    Language("icelandic",  "is"),
    Language("irish",      "ga"),
    Language("welsh",      "cy"),
    Language("japanese",   "ja"),
    Language("chinese",    "zh"),
    Language("korean",     "ko"),
    Language("vietnamese", "vi"),
    Language("thai",       "th"),
    Language("hindi",      "hi"),
    Language("indonesian", "id", ("bahasa",)),
    Language("afrikaans",  "af"),
)
LANGUAGE_BY_NAME = {
    name: row for row in LANGUAGES for name in (row.babel, row.tag.lower(), *row.aliases)
}
LANGUAGE_BY_TAG = {row.tag.lower(): row for row in LANGUAGES}
