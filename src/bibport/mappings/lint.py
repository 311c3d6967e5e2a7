"""What `bibport check` checks: rules, required fields, protected words (mappings layer: pure tables).

Required fields follow the biblatex manual (3.18b, section 2.1.1 "Regular Types" and 2.1.3 "Type
Aliases"); a requirement `a/b` is met by any one of the fields. Classic BibTeX spellings meet the
biblatex ones through FIELD_ALIASES (`journal` for `journaltitle`, `year` for `date`, ...).
"Recommended" fields are this project's opinion: what lets a reader find the work (pages, publisher,
DOI or URL, ISBN for books). Places are not among them: many proceedings and some publishers' pages
print none, and a guessed place is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    description: str


RULES = (
    Rule("missing-required",    WARNING, "a field the biblatex manual requires for the type is missing"),
    Rule("missing-recommended", WARNING, "a field a complete record of this type should carry is missing"),
    Rule("unknown-type",        WARNING, "the entry type is neither a BibTeX nor a biblatex type"),
    Rule("doi-syntax",          WARNING, "the DOI is not `10.NNNN/suffix` without spaces"),
    Rule("doi-url-prefix",      WARNING, "the DOI is written as a link (`https://doi.org/`, `doi:`)"),
    Rule("doi-placeholder",     WARNING, "the DOI uses a prefix that is not registered (ACM's 10.5555)"),
    Rule("duplicate-doi",       WARNING, "two entries carry the same DOI"),
    Rule("isbn-checksum",       WARNING, "an ISBN-10/13 has the wrong length or check digit"),
    Rule("issn-checksum",       WARNING, "an ISSN is not NNNN-NNNC or has the wrong check digit"),
    Rule("url-syntax",          WARNING, "the URL is not an absolute http(s) URL with a host and no spaces"),
    Rule("page-range",          WARNING, "pages are not single pages or ascending `first--last` ranges"),
    Rule("year-implausible",    WARNING, "year or date is not a year between 1400 and two years from now"),
    Rule("month-invalid",       WARNING, "month is not 1..12 or an English month name"),
    Rule("duplicate-key",       ERROR,   "two files define the same key"),
    Rule("key-case-collision",  ERROR,   "two keys differ only in case (citeproc and Zotero merge them)"),
    Rule("key-convention",      WARNING, "the key is not familyYEARfirstword in lowercase ASCII"),
    Rule("unprotected-acronym", WARNING, "an acronym or proper noun in a title is outside braces"),
    Rule("non-ascii",           WARNING, "a non-ASCII character in a file meant for classic BibTeX"),
    Rule("missing-langid",      WARNING, "the title looks non-English but langid/language does not say so"),
)
RULE_BY_CODE = {rule.code: rule for rule in RULES}

# A requirement spelled as biblatex spells it is also met by these classic BibTeX fields.
FIELD_ALIASES = {
    "journaltitle": ("journal",),
    "date":         ("year",),
    "location":     ("address",),
    "institution":  ("school",),
}


@dataclass(frozen=True)
class Requirement:
    entry_types: tuple[str, ...]
    required: tuple[str, ...]          # biblatex manual, section 2.1
    recommended: tuple[str, ...] = ()  # project opinion (see module docstring)


_A, _T, _Y = "author", "title", "year/date"
_PUBLISHED = ("publisher", "isbn")
# Aliases sit beside their target (the manual makes @conference an @inproceedings); the classic
# @techreport, @phdthesis, @mastersthesis imply `type` (manual 2.1.3). Rows: types, required, recommended.
REQUIREMENTS = (
    Requirement(("article", "suppperiodical"),           (_A, _T, "journaltitle", _Y),
                ("volume", "pages", "doi/url")),
    Requirement(("book", "mvbook"),                      (_A, _T, _Y),                          _PUBLISHED),
    Requirement(("inbook", "bookinbook", "suppbook"),    (_A, _T, "booktitle", _Y),
                ("publisher", "pages")),
    Requirement(("booklet",),                            ("author/editor", _T, _Y)),
    Requirement(("collection", "mvcollection", "reference", "mvreference"), ("editor", _T, _Y), _PUBLISHED),
    Requirement(("incollection", "suppcollection", "inreference"), (_A, _T, "editor", "booktitle", _Y),
                ("publisher", "pages")),
    Requirement(("dataset",),                            ("author/editor", _T, _Y)),
    Requirement(("manual",),                             ("author/editor", _T, _Y)),
    Requirement(("misc", "software"),                    ("author/editor", _T, _Y)),
    Requirement(("online", "electronic", "www"),         ("author/editor", _T, _Y, "doi/eprint/url")),
    Requirement(("patent",),                             (_A, _T, "number", _Y)),
    Requirement(("periodical",),                         ("editor", _T, _Y)),
    Requirement(("proceedings", "mvproceedings"),        (_T, _Y),                              _PUBLISHED),
    Requirement(("inproceedings", "conference"),         (_A, _T, "booktitle", _Y),
                ("pages", "doi/url")),
    Requirement(("report",),                             (_A, _T, "type", "institution", _Y)),
    Requirement(("techreport",),                         (_A, _T, "institution", _Y)),
    Requirement(("thesis",),                             (_A, _T, "type", "institution", _Y)),
    Requirement(("phdthesis", "mastersthesis"),          (_A, _T, "institution", _Y)),
    Requirement(("unpublished",),                        (_A, _T, _Y)),
)
REQUIREMENT_BY_TYPE = {entry_type: row for row in REQUIREMENTS for entry_type in row.entry_types}

# Types biber accepts that the manual gives no required fields (they print with the @misc driver).
TYPES_WITHOUT_REQUIREMENTS = (
    "artwork", "audio", "bibnote", "commentary", "image", "jurisdiction", "legislation", "legal",
    "letter", "movie", "music", "performance", "review", "standard", "video",
    "customa", "customb", "customc", "customd", "custome", "customf", "set", "xdata",
)

# DOI prefixes that look valid but resolve nowhere.
PLACEHOLDER_DOI_PREFIXES = (
    "10.5555/",  # ACM DL's own ids for items without a registered DOI
)

# Fields whose words BibTeX styles and biblatex's sentence-case may lowercase.
CASE_CHANGED_FIELDS = ("title", "subtitle", "booktitle")

# Capitalised words that stay capitalised whatever a style does to the title; acronyms and mixed
# case (GPU, FaaS, VMware, iOS) are found by shape, not listed.
PROPER_NOUNS = frozenset((
    "Linux", "Unix", "Docker", "Kubernetes", "Xen", "Java", "Python", "Windows", "Android",
    "Intel", "Amazon", "Google", "Microsoft", "Apple", "Azure", "Ethernet", "Firecracker",
    "Bayes", "Bayesian", "Markov", "Gaussian", "Fourier", "Euler", "Boolean", "Turing",
    "Newton", "Hilbert", "Riemann", "Lipschitz", "Monte", "Carlo",
    "English", "French", "German", "Spanish", "European", "America", "American", "Europe",
))

# langid/language values (babel and BCP 47 names, lowercase) that mean English.
ENGLISH_LANGUAGES = frozenset((
    "english", "american", "british", "canadian", "australian", "newzealand", "usenglish",
    "ukenglish", "en", "en-us", "en-gb", "en-ca", "en-au", "en-nz", "eng",
))


@dataclass(frozen=True)
class LanguageCue:
    babel: str                 # what to suggest for langid
    name: str                  # as the message says it
    words: frozenset[str]      # frequent function words (lowercase)
    letters: str               # letters rare in English titles


# Scored per language: distinct cue words plus one for any cue letter; MIN_LANGUAGE_SCORE flags.
LANGUAGE_CUES = (
    LanguageCue("french", "French",
                frozenset(("le", "la", "les", "des", "du", "et", "une", "un", "pour", "dans", "avec",
                           "sur", "au", "aux", "à", "de", "par", "est", "ou", "en", "l", "d", "qu")),
                "éèêëàâçîïôûùœ"),
    LanguageCue("ngerman", "German",
                frozenset(("der", "die", "das", "und", "für", "mit", "von", "zur", "zum", "ein",
                           "eine", "einer", "im", "über", "auf", "des", "dem", "den", "zu", "ist",
                           "nicht", "bei")),
                "äöüß"),
    LanguageCue("spanish", "Spanish",
                frozenset(("el", "los", "las", "del", "y", "para", "con", "una", "por", "en", "de",
                           "la", "que", "sobre", "un", "al")),
                "ñáíóú¿¡"),
)
MIN_LANGUAGE_SCORE = 2  # one word ("Die", "La") alone is too often English or a name
