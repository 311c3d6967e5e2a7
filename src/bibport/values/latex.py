"""LaTeX field values <-> CSL rich text (values layer: pure, no I/O, stdlib only).

`to_unicode` decodes one raw BibTeX field value (delimiters removed, @string macros resolved) into
CSL rich text: Unicode plus <i>, <b>, <sup>, <sub>, <span class="nocase"> and the small-caps span.
`from_unicode` is its inverse for writing BibTeX. The decoder is a single left-to-right scan with an
explicit stack (no recursion), so hostile nesting costs linear time; brace frames deeper than
MAX_DEPTH are counted, not stacked, which keeps every frame's copy cost bounded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

Warn = Callable[[str, str], None]

_NOCASE = '<span class="nocase">'
_SMALLCAPS = '<span style="font-variant:small-caps;">'
_I = ("<i>", "</i>")
_B = ("<b>", "</b>")
_SC = (_SMALLCAPS, "</span>")
_SUP = ("<sup>", "</sup>")
_SUB = ("<sub>", "</sub>")
_BARE = ("", "")

MAX_DEPTH = 64          # brace frames kept on the stack; deeper braces only counted
_CACHE_LIMIT = 512      # longer values (abstracts) are rarely repeated: do not pin them in the cache

# Accent commands (control symbols and one-letter control words) -> combining mark.
ACCENTS: dict[str, str] = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304", ".": "\u0307",
    '"': "\u0308", "c": "\u0327", "v": "\u030c", "H": "\u030b", "k": "\u0328", "u": "\u0306",
    "r": "\u030a", "d": "\u0323", "b": "\u0331", "t": "\u0361",
}

# An accent with an empty argument (`\~{}`) prints the bare accent.
SPACING_ACCENTS: dict[str, str] = {
    "'": "\u00b4", "`": "`", "^": "^", "~": "~", "=": "\u00af", ".": "\u02d9", '"': "\u00a8",
    "c": "\u00b8", "v": "\u02c7", "H": "\u02dd", "k": "\u02db", "u": "\u02d8", "r": "\u02da",
}

# Accents on a dotless letter compose with the dotted one (NFC knows no ı + acute).
DOTLESS = {"\u0131": "i", "\u0237": "j"}

# Text-mode control words without arguments -> text.
TEXT_SYMBOLS: dict[str, str] = {
    "ss": "ß", "o": "ø", "O": "Ø", "oe": "œ", "OE": "Œ", "ae": "æ", "AE": "Æ", "aa": "å", "AA": "Å",
    "l": "ł", "L": "Ł", "i": "\u0131", "j": "\u0237", "dh": "ð", "DH": "Ð", "th": "þ", "TH": "Þ",
    "ng": "ŋ", "NG": "Ŋ", "dj": "đ", "DJ": "Đ",
    "textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^", "textasciigrave": "`",
    "textunderscore": "_", "textbar": "|", "textless": "<", "textgreater": ">", "textdollar": "$",
    "textquotesingle": "'", "textbraceleft": "{", "textbraceright": "}", "slash": "/",
    "S": "§", "textsection": "§", "P": "¶", "textparagraph": "¶",
    "copyright": "©", "textcopyright": "©", "dag": "†", "textdagger": "†", "ddag": "‡",
    "textdaggerdbl": "‡", "ldots": "…", "dots": "…", "textellipsis": "…",
    "TeX": "TeX", "LaTeX": "LaTeX", "LaTeXe": "LaTeX2ε", "BibTeX": "BibTeX",
    "guillemotleft": "«", "guillemotright": "»", "guillemetleft": "«", "guillemetright": "»",
    "guilsinglleft": "‹", "guilsinglright": "›", "quotedblbase": "„", "quotesinglbase": "‚",
    "textendash": "–", "textemdash": "—", "textquoteleft": "‘", "textquoteright": "’",
    "textquotedblleft": "“", "textquotedblright": "”",
    "euro": "€", "texteuro": "€", "pounds": "£", "textsterling": "£", "textyen": "¥", "textcent": "¢",
    "textregistered": "®", "texttrademark": "™", "textdegree": "°", "textperiodcentered": "·",
    "textbullet": "•", "textexclamdown": "¡", "textquestiondown": "¿",
    "og": "«\u00a0", "fg": "\u00a0»",  # babel-french guillemets bring their own non-breaking space
    "newline": " ", "par": " ", "space": " ", "quad": " ", "qquad": " ", "relax": "",
}

# `\fg` removes the space typed before it (babel's \unskip).
UNSKIP_BEFORE = frozenset({"fg"})

# Control symbols (backslash + one non-letter) -> text.
CONTROL_SYMBOLS: dict[str, str] = {
    "&": "&", "%": "%", "$": "$", "_": "_", "#": "#", "{": "{", "}": "}",
    ",": "\u2009", "-": "", "/": "", "@": "", "!": "", ";": " ", ":": " ", ">": " ",
    " ": " ", "\t": " ", "\n": " ", "\r": " ", "\\": " ",
}

# Commands taking one argument, wrapped in rich-text markup (_BARE: just the contents).
WRAPPERS: dict[str, tuple[str, str]] = {
    "textit": _I, "emph": _I, "textsl": _I,
    "textbf": _B,
    "textsc": _SC,
    "textsuperscript": _SUP,
    "textsubscript": _SUB,
    "NoCaseChange": (_NOCASE, "</span>"),
    "textrm": _BARE, "textnormal": _BARE, "mbox": _BARE, "hbox": _BARE, "text": _BARE,
    "textup": _BARE, "textmd": _BARE, "textsf": _BARE, "texttt": _BARE,
}

# Font declarations: they apply to the rest of the enclosing group.
DECLARATIONS: dict[str, tuple[str, str]] = {
    "em": _I, "it": _I, "itshape": _I, "sl": _I, "slshape": _I,
    "bf": _B, "bfseries": _B,
    "sc": _SC, "scshape": _SC,
    "rm": _BARE, "rmfamily": _BARE, "normalfont": _BARE, "upshape": _BARE, "mdseries": _BARE,
    "sf": _BARE, "sffamily": _BARE, "tt": _BARE, "ttfamily": _BARE,
}

# Commands whose argument is taken verbatim (URLs must not be decoded).
VERBATIM = frozenset({"url", "path"})

# Commands that read files, run programs or redefine TeX: kept as inert text, never interpreted.
UNSAFE = frozenset({
    "input", "include", "includeonly", "InputIfFileExists", "IfFileExists", "verbatiminput",
    "lstinputlisting", "includegraphics", "write", "immediate", "openout", "openin", "closeout",
    "closein", "read", "readline", "newwrite", "newread", "endinput", "scantokens", "special",
    "def", "edef", "gdef", "xdef", "let", "futurelet", "global", "long", "outer", "catcode",
    "lccode", "uccode", "csname", "endcsname", "expandafter", "afterassignment", "aftergroup",
    "everypar", "everymath", "newcommand", "renewcommand", "providecommand",
    "DeclareRobustCommand", "newenvironment", "renewenvironment", "usepackage", "RequirePackage",
    "documentclass", "makeatletter", "makeatother", "directlua", "luaexec", "ShellEscape",
})

# Math-mode control words that have a plain Unicode reading; preferred spelling first per char.
MATH_SYMBOLS: dict[str, str] = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ",
    "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ", "phi": "ϕ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "times": "×", "pm": "±", "mp": "∓", "div": "÷", "cdot": "⋅", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "simeq": "≃",
    "equiv": "≡", "propto": "∝", "ll": "≪", "gg": "≫", "infty": "∞", "rightarrow": "→", "to": "→",
    "leftarrow": "←", "gets": "←", "leftrightarrow": "↔", "Rightarrow": "⇒", "Leftarrow": "⇐",
    "Leftrightarrow": "⇔", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆", "cup": "∪",
    "cap": "∩", "emptyset": "∅", "forall": "∀", "exists": "∃", "partial": "∂", "nabla": "∇",
    "circ": "∘", "prime": "′", "ell": "ℓ", "neg": "¬", "wedge": "∧", "vee": "∨", "oplus": "⊕",
    "otimes": "⊗", "perp": "⊥", "sum": "∑", "prod": "∏", "int": "∫", "cdots": "⋯", "ldots": "…",
}

# Characters that are one simple math token as they stand.
MATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-=()[],./:;!?*|<>'")

# from_unicode: characters escaped in every mode (LaTeX specials, ligature-typed punctuation).
ALWAYS_ESCAPES: dict[str, str] = {
    "\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "&": "\\&", "%": "\\%", "$": "\\$",
    "#": "\\#", "_": "\\_", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
    "`": "\\textasciigrave{}",  # a bare backquote would read back as ‘
    "\u2013": "--", "\u2014": "---", "\u00a0": "~", "\u2009": "\\,",
    "\u201c": "``", "\u201d": "''", "\u2018": "`",
}

# from_unicode, ascii=True: non-ASCII symbols with a text-mode command.
SYMBOL_ESCAPES: dict[str, str] = {
    "…": "\\ldots{}", "«": "\\guillemotleft{}", "»": "\\guillemotright{}",
    "‹": "\\guilsinglleft{}", "›": "\\guilsinglright{}", "„": "\\quotedblbase{}",
    "‚": "\\quotesinglbase{}", "’": "\\textquoteright{}", "€": "\\euro{}", "£": "\\pounds{}",
    "¥": "\\textyen{}", "¢": "\\textcent{}", "©": "\\copyright{}", "®": "\\textregistered{}",
    "™": "\\texttrademark{}", "°": "\\textdegree{}", "§": "\\S{}", "¶": "\\P{}", "†": "\\dag{}",
    "‡": "\\ddag{}", "·": "\\textperiodcentered{}", "•": "\\textbullet{}",
    "¡": "\\textexclamdown{}", "¿": "\\textquestiondown{}",
}

# from_unicode, ascii=True: letters with their own command (before any NFD decomposition).
LETTER_ESCAPES: dict[str, str] = {
    char: "\\" + name for name, char in TEXT_SYMBOLS.items()
    if len(name) <= 2 and char.isalpha() and len(char) == 1
}

# Combining mark -> accent command; the tie (two base letters) is handled apart.
ACCENT_NAMES: dict[str, str] = {mark: name for name, mark in ACCENTS.items() if name != "t"}

# Marks above the letter: on i and j they take the dotless form (`{\'\i}`).
ABOVE_MARKS = frozenset("\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u030a\u030b\u030c")

# from_unicode, ascii=True: non-Latin letters and symbols with only a math-mode command.
# (reversed so that the first, preferred spelling of a character wins)
MATH_ESCAPES: dict[str, str] = {
    char: "$\\" + name + "$" for name, char in reversed(MATH_SYMBOLS.items()) if char not in SYMBOL_ESCAPES
}

# Rich-text opening tag -> (LaTeX opening, closing tag).
RICH_TAGS: dict[str, tuple[str, str]] = {
    "<i>": ("\\textit{", "</i>"),
    "<b>": ("\\textbf{", "</b>"),
    "<sup>": ("\\textsuperscript{", "</sup>"),
    "<sub>": ("\\textsubscript{", "</sub>"),
    _NOCASE: ("{", "</span>"),
    _SMALLCAPS: ("\\textsc{", "</span>"),
}

# Pairs that TeX (T1 fonts) would merge into a ligature when typed adjacently.
_LIGATURE_PAIRS = frozenset({"--", "``", "''", "<<", ">>", ",,", "!`", "?`"})

_WS = re.compile(r"[ \t\n\r\f\v]+")
_SPACES = re.compile(r"[ \t\n\r\f\v]*")
_NEEDS_PARSE = re.compile(r"[\\{}$]")
_FAST = re.compile(r"---|--|``|''|`|~")
_FAST_MAP = {"---": "\u2014", "--": "\u2013", "``": "\u201c", "''": "\u201d", "`": "\u2018",
             "~": "\u00a0"}
_TEXT_RUN = re.compile(r"[^\\{}$~`'\-]+")
_BRACES = re.compile(r"[{}]")
_FLAT_GROUP = re.compile(r"\{([^{}\\$]*)\}")
_FLAT_GROUPS_ONLY = re.compile(r"(?:[^{}\\$]++|\{[^{}\\$]*+\})*+")  # possessive: no backtracking blow-up
_WORD = re.compile(r"\\([A-Za-z]+)")
_MATH_END = re.compile(r"(?:[^$\\]|\\.)*\$", re.S)
_BRACE_OR_ESCAPE = re.compile(r"\\.|[{}]", re.S)
_MATH_TOKEN = re.compile(r"\\([A-Za-z]+)|\\(.)|([ \t\n\r\f\v]+)|(.)", re.S)
_MATH_STRUCT = frozenset("^_{}")
_CLOSING_TAGS = ("</i>", "</b>", "</sup>", "</sub>", "</span>")
_TAG_RE = re.compile("|".join(re.escape(t) for t in (*RICH_TAGS, *_CLOSING_TAGS)))
_LEADING_TAGS = re.compile(f"(?:{_TAG_RE.pattern})*")
_MATH_SPAN = re.compile(r"\$[^$]*\$")
_SAFE_RUN = re.compile(r"(?:[^\\{}&%$#_~^\-`'<>,\x80-\U0010ffff](?![\u0300-\u036f]))+")
_CLUSTER = re.compile(r".[\u0300-\u036f]*", re.S)
_CONTROL_WORD = re.compile(r"\\[A-Za-z]+")
_UNSAFE_TAIL = re.compile(r"[0-9]*[ \t\n\r\f\v]*")


def _accent(base: str, name: str) -> str:
    """Put accent `name` on the first letter of decoded text `base` (after any leading tags)."""
    start = _LEADING_TAGS.match(base).end()
    if start >= len(base):
        return base + SPACING_ACCENTS.get(name, "")
    first = DOTLESS.get(base[start], base[start])
    return base[:start] + unicodedata.normalize("NFC", first + ACCENTS[name]) + base[start + 1:]


def _math(content: str) -> str | None:
    """Rich text for simple math, or None when the formula must be kept verbatim."""
    tokens: list[str] = []
    for word, symbol, space, char in _MATH_TOKEN.findall(content):
        if word:
            if word not in MATH_SYMBOLS:
                return None
            tokens.append(MATH_SYMBOLS[word])
        elif symbol:
            return None
        elif space:
            tokens.append(" ")
        elif char in _MATH_STRUCT or char in MATH_CHARS:
            tokens.append(char)
        else:
            return None
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token in ("^", "_"):
            i += 1
            while i < n and tokens[i] == " ":
                i += 1
            if i >= n or tokens[i] in ("^", "_", "}", " "):
                return None
            if tokens[i] == "{":
                j = i + 1
                while j < n and tokens[j] not in _MATH_STRUCT:
                    j += 1
                if j >= n or tokens[j] != "}" or j == i + 1:
                    return None
                body, i = "".join(tokens[i + 1:j]), j + 1
            else:
                body, i = tokens[i], i + 1
            tags = _SUP if token == "^" else _SUB
            out.append(tags[0] + body + tags[1])
        elif token == "{":
            if i + 1 < n and tokens[i + 1] == "}":  # `{}^{13}C`: an empty group is harmless
                i += 2
                continue
            return None
        elif token == "}":
            return None
        else:
            out.append(token)
            i += 1
    return "".join(out)


def _match_brace(s: str, start: int) -> int:
    """Index of the `}` closing the `{` at `start`, or -1."""
    depth = 0
    for m in _BRACE_OR_ESCAPE.finditer(s, start):
        token = m.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return m.start()
    return -1


_ROOT, _PLAIN, _NOCASE_GROUP, _WRAP, _ACCENT = range(5)
_LONG_VALUE = 65_536   # chars: longer values join their decoded parts as they go
_JOIN_PARTS = 1024


class _Frame:
    # joined: parts before this index are already joined (emit_joining sets it; unset means 0)
    __slots__ = ("kind", "payload", "parts", "closes", "mark", "joined")

    def __init__(self, kind: int, payload, mark: int) -> None:
        self.kind = kind
        self.payload = payload
        self.parts: list[str] = []
        self.closes: list[tuple[str, int, int]] = []  # declarations: (closing tag, index, mark)
        self.mark = mark  # text produced before the frame opened: equal at close = empty


class _Decoder:
    """One scan over a raw value; explicit frame stack instead of recursion."""

    def __init__(self, text: str, protect_case: bool) -> None:
        self.s = text
        self.n = len(text)
        self.protect = protect_case
        self.stack = [_Frame(_ROOT, None, 0)]
        self.plain_depth = 0  # open plain/special groups (command arguments do not count)
        self.ghosts = 0       # groups past MAX_DEPTH: only counted
        self.produced = 0
        self.warnings: dict[tuple[str, str], None] = {}
        if self.n > _LONG_VALUE:
            self.emit = self.emit_joining  # per instance: short values keep the plain, faster emit

    def warn(self, code: str, message: str) -> None:
        self.warnings[(code, message)] = None

    def emit(self, text: str) -> None:
        self.stack[-1].parts.append(text)
        self.produced += len(text)

    def emit_joining(self, text: str) -> None:
        """emit(), joining the frame's parts after its last declaration into one string once they
        are many (a 20 MB abstract is not held as millions of small str). Only a declaration's
        part is rewritten later, by index; unskip strips the joined tail as it strips the parts."""
        frame = self.stack[-1]
        parts = frame.parts
        parts.append(text)
        self.produced += len(text)
        joined = getattr(frame, "joined", 0)
        if len(parts) - joined >= _JOIN_PARTS:
            # from the last declaration or the last joined string on: nothing is joined twice
            start = max(joined, frame.closes[-1][1] + 1 if frame.closes else 0)
            if len(parts) - start >= _JOIN_PARTS // 2:
                parts[start:] = ["".join(parts[start:])]
                frame.joined = start + 1

    def run(self) -> str:
        s, n = self.s, self.n
        i = 0
        while i < n:
            m = _TEXT_RUN.match(s, i)
            if m:
                self.emit(m.group())
                i = m.end()
                continue
            c = s[i]
            if c == "\\":
                i = self.command(i)
            elif c == "{":
                self.open_group(i)
                i += 1
            elif c == "}":
                self.close_group()
                i += 1
            elif c == "$":
                i = self.dollar(i)
            elif c == "~":
                self.emit("\u00a0")
                i += 1
            elif c == "-":
                width = 3 if s.startswith("---", i) else 2 if s.startswith("--", i) else 1
                self.emit(("-", "\u2013", "\u2014")[width - 1])
                i += width
            elif c == "`":
                width = 2 if s.startswith("``", i) else 1
                self.emit("\u201c" if width == 2 else "\u2018")
                i += width
            else:  # "'": a single one stays an apostrophe
                width = 2 if s.startswith("''", i) else 1
                self.emit("\u201d" if width == 2 else "'")
                i += width
        return self.finish()

    # --- commands -------------------------------------------------------------------------

    def command(self, i: int) -> int:
        s = self.s
        m = _WORD.match(s, i)
        if m:
            name = m.group(1)
            k = _SPACES.match(s, m.end()).end()  # TeX skips spaces after a control word
            return self.word(name, i, k)
        if i + 1 >= self.n:
            self.warn("latex-unknown-macro", "trailing backslash kept")
            self.emit("\\")
            return i + 1
        c = s[i + 1]
        if c in ACCENTS:
            return self.accent(c, _SPACES.match(s, i + 2).end())
        if c in CONTROL_SYMBOLS:
            self.emit(CONTROL_SYMBOLS[c])
            return i + 2
        if c in "([":
            return self.bracket_math(i, "\\)" if c == "(" else "\\]")
        self.warn("latex-unknown-macro", f"\\{c} kept as text")
        self.emit(s[i:i + 2])
        return i + 2

    def word(self, name: str, i: int, k: int) -> int:
        if name in TEXT_SYMBOLS:
            if name in UNSKIP_BEFORE:
                self.unskip()
            self.emit(TEXT_SYMBOLS[name])
            return k
        if name in ACCENTS:
            return self.accent(name, k)
        if name in WRAPPERS:
            return self.wrap(WRAPPERS[name], k)
        if name in DECLARATIONS:
            self.declare(DECLARATIONS[name])
            return k
        if name in VERBATIM and k < self.n and self.s[k] == "{":
            return self.verbatim(k)
        if name in UNSAFE:
            self.warn("latex-unsafe-command", f"\\{name} kept as inert text")
            k = _UNSAFE_TAIL.match(self.s, k).end()  # `\write18{...}` stays in one piece
        else:
            self.warn("latex-unknown-macro", f"\\{name} kept as text")
        self.emit(self.s[i:k])
        return self.raw_groups(k)

    def accent(self, name: str, k: int) -> int:
        s = self.s
        if k >= self.n or s[k] in "}$":
            self.emit(SPACING_ACCENTS.get(name, ""))
            return k
        c = s[k]
        if c == "{":
            if self.push(_ACCENT, name):
                return k + 1
            self.emit(SPACING_ACCENTS.get(name, ""))  # too deep: the accent is dropped
            return k + 1
        if c == "\\":
            m = _WORD.match(s, k)
            if m and m.group(1) in TEXT_SYMBOLS:  # `\"\i`, `\'\o`
                self.emit(_accent(TEXT_SYMBOLS[m.group(1)], name))
                return _SPACES.match(s, m.end()).end()
            self.emit(SPACING_ACCENTS.get(name, ""))
            return k
        self.emit(_accent(c, name))
        return k + 1

    def wrap(self, tags: tuple[str, str], k: int) -> int:
        s = self.s
        if k < self.n and s[k] == "{":
            self.push(_WRAP, tags)
            return k + 1
        if k < self.n and s[k] not in "\\}$":  # TeX takes a single character as the argument
            self.stack[-1].parts.append(tags[0])
            self.emit(s[k])
            self.stack[-1].parts.append(tags[1])
            return k + 1
        return k

    def declare(self, tags: tuple[str, str]) -> None:
        if tags == _BARE:
            return
        frame = self.stack[-1]
        frame.parts.append(tags[0])
        frame.closes.append((tags[1], len(frame.parts) - 1, self.produced))

    def verbatim(self, k: int) -> int:
        end = _match_brace(self.s, k)
        if end < 0:
            self.warn("latex-unbalanced", "unclosed { in verbatim argument")
            self.emit(self.s[k + 1:])
            return self.n
        self.emit(self.s[k + 1:end])
        return end + 1

    def raw_groups(self, k: int) -> int:
        """Copy the brace groups right after an unknown command as they stand."""
        s = self.s
        while k < self.n and s[k] == "{":
            end = _match_brace(s, k)
            if end < 0:
                self.warn("latex-unbalanced", "unclosed { after a kept command")
                self.emit(s[k:])
                return self.n
            self.emit(s[k:end + 1])
            k = end + 1
        return k

    def unskip(self) -> None:
        parts = self.stack[-1].parts
        while parts:
            stripped = parts[-1].rstrip(" \t\n\r\f\v")
            if stripped:
                parts[-1] = stripped
                return
            parts.pop()

    # --- math -----------------------------------------------------------------------------

    def dollar(self, i: int) -> int:
        m = _MATH_END.match(self.s, i + 1)
        if not m:
            self.warn("latex-unbalanced", "unclosed $ kept as a dollar sign")
            self.emit("$")
            return i + 1
        self.math(self.s[i + 1:m.end() - 1])
        return m.end()

    def bracket_math(self, i: int, closer: str) -> int:
        end = self.s.find(closer, i + 2)
        if end < 0:
            self.warn("latex-unbalanced", f"unclosed {self.s[i:i + 2]} kept as text")
            self.emit(self.s[i:i + 2])
            return i + 2
        self.math(self.s[i + 2:end])
        return end + 2

    def math(self, content: str) -> None:
        rendered = _math(content)
        if rendered is not None:
            self.emit(rendered)
            return
        self.warn("latex-math-kept", f"math kept verbatim: ${content[:60]}$")
        for name in _WORD.findall(content):
            if name in UNSAFE:
                self.warn("latex-unsafe-command", f"\\{name} in math kept as text")
        self.emit("$" + content + "$")  # `\(...\)` is normalised to `$...$`

    # --- groups ---------------------------------------------------------------------------

    def push(self, kind: int, payload) -> bool:
        if self.ghosts or len(self.stack) >= MAX_DEPTH:
            if not self.ghosts:
                self.warn("latex-too-deep", f"braces nested deeper than {MAX_DEPTH}: inner markup dropped")
            self.ghosts += 1
            return False
        self.stack.append(_Frame(kind, payload, self.produced))
        return True

    def open_group(self, i: int) -> None:
        special = self.s.startswith("\\", i + 1)  # BibTeX's "special character" `{\'e}`
        kind = _NOCASE_GROUP if self.protect and self.plain_depth == 0 and not special else _PLAIN
        if self.push(kind, None):
            self.plain_depth += 1

    def close_group(self) -> None:
        if self.ghosts:
            self.ghosts -= 1
        elif len(self.stack) == 1:
            self.warn("latex-unbalanced", "unmatched } dropped")
        else:
            self.pop()

    def content(self, frame: _Frame) -> str:
        parts = frame.parts
        for tag, index, mark in reversed(frame.closes):
            if mark == self.produced:
                parts[index] = ""  # the declaration covered no text
            else:
                parts.append(tag)
        return "".join(parts)

    def pop(self) -> None:
        frame = self.stack.pop()
        text = self.content(frame)
        empty = frame.mark == self.produced
        kind = frame.kind
        if kind == _PLAIN:
            self.plain_depth -= 1
        elif kind == _NOCASE_GROUP:
            self.plain_depth -= 1
            if text.strip(" \t\n\r\f\v"):
                text = _NOCASE + text + "</span>"
        elif kind == _WRAP:
            if not empty:
                text = frame.payload[0] + text + frame.payload[1]
        else:
            text = _accent(text, frame.payload)
            self.produced += 1
        self.stack[-1].parts.append(text)

    def finish(self) -> str:
        if self.ghosts or len(self.stack) > 1:
            self.warn("latex-unbalanced", "unclosed { closed at the end of the value")
        self.ghosts = 0
        while len(self.stack) > 1:
            self.pop()
        return self.content(self.stack[0])


def _fast(text: str) -> str:
    return _FAST.sub(lambda m: _FAST_MAP[m.group()], text)


def _flat_groups(text: str, protect_case: bool) -> str:
    """What the decoder makes of text with brace groups but no commands, math or nesting (`{DNA}
    repair`, the common protected title): each group on its own (a ligature never spans a brace)."""
    out, pos = [], 0
    for group in _FLAT_GROUP.finditer(text):
        out.append(_fast(text[pos:group.start()]))
        inner = _fast(group.group(1))
        out.append(_NOCASE + inner + "</span>" if protect_case and inner.strip(" \t\n\r\f\v") else inner)
        pos = group.end()
    out.append(_fast(text[pos:]))
    return "".join(out)


def _convert(text: str, protect_case: bool) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Decoded rich text and the warnings raised on the way."""
    if not _NEEDS_PARSE.search(text):
        return _WS.sub(" ", _fast(text)).strip(" "), ()
    if _FLAT_GROUPS_ONLY.fullmatch(text):
        return _WS.sub(" ", _flat_groups(text, protect_case)).strip(" "), ()
    decoder = _Decoder(text, protect_case)
    try:
        out = decoder.run()
    except Exception as exc:  # contract: never raise on any str; fall back to the raw text
        decoder.warn("latex-error", f"value kept as text: {type(exc).__name__}")
        out = text
    return _WS.sub(" ", out).strip(" "), tuple(decoder.warnings)


_convert_cached = lru_cache(maxsize=65536)(_convert)


def to_unicode(text: str, *, protect_case: bool = True, warn: Warn | None = None) -> str:
    """Decode one raw BibTeX field value into CSL rich text."""
    convert = _convert_cached if len(text) <= _CACHE_LIMIT else _convert
    result, warnings = convert(text, protect_case)
    if warn is not None:
        for code, message in warnings:  # replayed on cache hits too
            warn(code, message)
    return result


# --- from_unicode ---------------------------------------------------------------------------


def _accent_command(name: str, expr: str) -> str:
    """`\\'e`, `\\'\\i`, `\\'{\\"u}` or `\\c{c}` for accent `name` over LaTeX `expr`."""
    if name.isalpha():
        return f"\\{name}{{{expr}}}"
    if len(expr) == 1 or _CONTROL_WORD.fullmatch(expr):
        return f"\\{name}{expr}"
    return f"\\{name}{{{expr}}}"


def _accented(cluster: str) -> str | None:
    """Braced LaTeX accents for a letter plus combining marks, or None."""
    decomposed = unicodedata.normalize("NFD", cluster)
    base, marks = decomposed[0], decomposed[1:]
    if not marks or any(mark not in ACCENT_NAMES for mark in marks):
        return None
    if base in "ij" and any(mark in ABOVE_MARKS for mark in marks):
        expr = "\\" + base  # the accent replaces the dot
    elif base.isascii() and base.isalpha():
        expr = base
    elif base in LETTER_ESCAPES:
        expr = LETTER_ESCAPES[base]
    else:
        return None
    for mark in marks:
        expr = _accent_command(ACCENT_NAMES[mark], expr)
    return "{" + expr + "}"


@lru_cache(maxsize=8192)
def _escape_cluster(cluster: str, ascii: bool) -> str:
    """LaTeX for one character (with any combining marks that follow it)."""
    if cluster in ALWAYS_ESCAPES:
        return ALWAYS_ESCAPES[cluster]
    if not ascii or cluster.isascii():
        return cluster
    if cluster in SYMBOL_ESCAPES:
        return SYMBOL_ESCAPES[cluster]
    if cluster in LETTER_ESCAPES:
        return "{" + LETTER_ESCAPES[cluster] + "}"
    if cluster in MATH_ESCAPES:
        return MATH_ESCAPES[cluster]
    if len(cluster) == 3 and cluster[1] == "\u0361" and (cluster[0] + cluster[2]).isascii():
        return f"{{\\t{{{cluster[0]}{cluster[2]}}}}}"
    return _accented(cluster) or cluster


def _emit(out: list[str], piece: str) -> None:
    """Append `piece`, separating it with `{}` where TeX would form a ligature."""
    if out and out[-1][-1] + piece[0] in _LIGATURE_PAIRS:
        out.append("{}")
    out.append(piece)


def balanced(latex: str) -> bool:
    """Braces balanced as BibTeX counts them (it ignores backslashes): never closing more than is open."""
    depth = 0
    for brace in _BRACES.findall(latex):  # visits the braces only, not every character
        depth += 1 if brace == "{" else -1
        if depth < 0:
            return False
    return depth == 0


def _keep_math(span: str, ascii: bool) -> bool:
    """True for a `$...$` span that to_unicode kept verbatim (and that is safe to re-emit)."""
    if not any(c in span for c in "\\^_{") or (ascii and not span.isascii()) or not balanced(span):
        return False
    if any(name in UNSAFE for name in _WORD.findall(span)):
        return False
    return _convert(span, False)[0] == span


def _encode_text(text: str, ascii: bool, out: list[str]) -> None:
    if ascii:
        text = unicodedata.normalize("NFC", text)
    pos = 0
    for m in _MATH_SPAN.finditer(text):
        if _keep_math(m.group(), ascii):
            _encode_plain(text[pos:m.start()], ascii, out)
            _emit(out, m.group())
            pos = m.end()
    _encode_plain(text[pos:], ascii, out)


_LITERAL_BRACES = frozenset(("\\{", "\\}"))
_JOIN_EVERY = 1024  # pieces per joined string: a 20 MB abstract is not kept as millions of small str


def _encode_plain(text: str, ascii: bool, out: list[str]) -> None:
    """Append text's LaTeX to out. Consecutive pieces are joined into one string as they come (the
    ligature test needs only the last character); a literal brace stays a piece of its own, for
    _balance_literal_braces."""
    pos, n = 0, len(text)
    run: list[str] = []
    last = out[-1][-1] if out else ""
    while pos < n:
        m = _SAFE_RUN.match(text, pos)
        if not m:
            m = _CLUSTER.match(text, pos)
            pos = m.end()
            cluster = m.group()
            if cluster.endswith("\u0361") and pos < n:  # the tie spans two letters
                cluster += text[pos]
                pos += 1
            piece = _escape_cluster(cluster, ascii)
        else:
            piece = m.group()
            pos = m.end()
        if last + piece[0] in _LIGATURE_PAIRS:
            run.append("{}")
        last = piece[-1]
        if piece in _LITERAL_BRACES:
            if run:
                out.append("".join(run))
                run = []
            out.append(piece)
            continue
        run.append(piece)
        if len(run) >= _JOIN_EVERY:
            out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))


def from_unicode(rich: str, *, ascii: bool = True) -> str:
    """Encode CSL rich text as LaTeX for a BibTeX field value."""
    if _SAFE_RUN.fullmatch(rich):
        return rich  # ASCII with nothing TeX reads specially: written as it is
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _TAG_RE.finditer(rich):
        if m.start() > pos:
            pieces.append((False, rich[pos:m.start()]))
        pieces.append((True, m.group()))
        pos = m.end()
    if pos < len(rich):
        pieces.append((False, rich[pos:]))

    # Pair tags; an unpaired or crossing tag is plain text.
    paired = [False] * len(pieces)
    opens: list[int] = []
    for index, (is_tag, tag) in enumerate(pieces):
        if not is_tag:
            continue
        if tag in RICH_TAGS:
            opens.append(index)
        elif opens and RICH_TAGS[pieces[opens[-1]][1]][1] == tag:
            paired[opens.pop()] = paired[index] = True

    out: list[str] = []
    starts: list[int] = []  # out index of each open nocase brace, -1 for other tags
    for index, (_, text) in enumerate(pieces):
        if not paired[index]:
            _encode_text(text, ascii, out)
        elif text in RICH_TAGS:
            out.append(RICH_TAGS[text][0])
            starts.append(len(out) - 1 if text == _NOCASE else -1)
        else:
            start = starts.pop()
            if start >= 0 and start + 1 < len(out) and out[start + 1].startswith("\\"):
                out[start] = "{{}"  # `{\x...}` would be a special character, not a protected group
            out.append("}")
    _balance_literal_braces(out)
    return "".join(out)


def _balance_literal_braces(out: list[str]) -> None:
    """Spell unmatched literal braces as commands: BibTeX counts `\\{` as a brace too."""
    opens: list[int] = []
    for index, piece in enumerate(out):
        if piece == "\\{":
            opens.append(index)
        elif piece == "\\}":
            if opens:
                opens.pop()
            else:
                out[index] = "\\textbraceright{}"
    for index in opens:
        out[index] = "\\textbraceleft{}"
