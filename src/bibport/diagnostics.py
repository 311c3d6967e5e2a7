"""Diagnostics: what went wrong where (bottom layer, stdlib only).

Readers and writers never raise on bad data: they add a Diagnostic to a Report and go on.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"

# Characters that must never reach a terminal raw: C0/C1 controls, DEL, bidi overrides/isolates.
_UNSAFE = {c for c in range(0x20)} | {0x7F} | set(range(0x80, 0xA0)) | {
    0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
}


_UNSAFE_CHAR = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_UNSAFE)) + "]")


def sanitize(text: str) -> str:
    """Escape control, ANSI and bidi characters so a message prints as one inert line."""
    if not _UNSAFE_CHAR.search(text):  # a per-character loop here was 5% of a run with ~1,000 warnings
        return text
    return _UNSAFE_CHAR.sub(lambda unsafe: f"\\u{ord(unsafe.group()):04x}", text)


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    source: str | None = None
    line: int | None = None  # 1-based
    key: str | None = None

    def render(self) -> str:
        """One line: `file:line: severity[code]: message (key)`."""
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.severity}[{self.code}]: {self.message}"
        if self.key:
            text += f" ({self.key})"
        return sanitize(text)


CODE_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # how every diagnostic code is spelled
SUMMARY_MAX_CODES = 10  # codes named in a summary line; the rest are counted together


def parse_codes(values: str | Iterable[str]) -> frozenset[str]:
    """Codes from "a,b" strings (or an iterable of them); ValueError names a malformed one."""
    values = [values] if isinstance(values, str) else list(values)
    codes = set()
    for value in values:
        for code in str(value).split(","):
            code = code.strip()
            if not code:
                continue
            if not CODE_RE.match(code):
                raise ValueError(f"{code!r} is not a diagnostic code (codes look like key-convention)")
            codes.add(code)
    return frozenset(codes)


@dataclass
class Report:
    """Collects diagnostics; under `strict`, warnings count as failures.

    `ignore`: warning codes to drop as they are recorded (neither listed, counted nor failing a strict
    run; only tallied in `ignored`). Errors are never dropped: an ignored code that comes as an error
    is still an error, since ignoring it would let bad data through unseen.
    """

    strict: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # entry key -> file it was read from
    # told (stage, done, total) as long runs advance; the CLI draws progress bars with it
    progress: Callable[[str, int, int], None] | None = field(default=None, repr=False, compare=False)
    ignore: frozenset[str] = frozenset()
    ignored: Counter = field(default_factory=Counter, repr=False, compare=False)  # code -> warnings dropped

    def __post_init__(self):
        self.ignore = parse_codes(self.ignore)  # "a,b", a list, a set: all mean the same

    def add(self, severity: str, code: str, message: str, *, source=None, line=None, key=None) -> None:
        """Record one diagnostic (a writer's, which knows only the key, gets the key's file)."""
        if code in self.ignore and severity == WARNING:
            self.ignored[code] += 1
            return
        if source is None and key is not None:
            source = self.origins.get(key)
        self.diagnostics.append(Diagnostic(severity, code, message, source, line, key))

    def tick(self, stage: str, done: int, total: int) -> None:
        """Tell the progress listener, if any, that `done` of `total` units of `stage` are finished."""
        if self.progress is not None:
            self.progress(stage, done, total)

    def error(self, code: str, message: str, **where) -> None:
        """Record an error (the run fails)."""
        self.add(ERROR, code, message, **where)

    def warning(self, code: str, message: str, **where) -> None:
        """Record a warning (the run fails only under strict)."""
        self.add(WARNING, code, message, **where)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == WARNING]

    @property
    def failed(self) -> bool:
        """True when the run must exit non-zero."""
        return bool(self.errors) or (self.strict and bool(self.warnings))

    def render(self) -> str:
        """All diagnostics, one per line, in the order they were found."""
        return "".join(d.render() + "\n" for d in self.diagnostics)

    def summary(self) -> str:
        """One line: `3,912 warnings, 0 errors (key-convention 3,305, unknown-field 512, ...)`, codes
        most frequent first (then by name)."""
        errors = sum(d.severity == ERROR for d in self.diagnostics)
        warnings = len(self.diagnostics) - errors
        text = f"{_counted(warnings, 'warning')}, {_counted(errors, 'error')}"
        return text + f" ({self.by_code()})" if self.diagnostics else text

    def by_code(self) -> str:
        """`key-convention 3,305, unknown-field 512, ...`: diagnostics counted by code, most frequent
        first (ties by name), the codes past SUMMARY_MAX_CODES counted together as `other`."""
        counts = sorted(Counter(d.code for d in self.diagnostics).items(), key=lambda c: (-c[1], c[0]))
        named = [f"{code} {count:,}" for code, count in counts[:SUMMARY_MAX_CODES]]
        rest = counts[SUMMARY_MAX_CODES:]
        if rest:
            named.append(f"other {sum(count for _, count in rest):,}")
        return sanitize(", ".join(named))

    def replay(self, calls: list[tuple[str, tuple, dict]]) -> None:
        """Apply calls a Recorder took down (in a worker process), in their order."""
        for method, args, kwargs in calls:
            getattr(self, method)(*args, **kwargs)

    def to_json(self) -> str:
        """The diagnostics as a JSON array, for scripts."""
        safe = [{k: sanitize(v) if isinstance(v, str) else v for k, v in asdict(d).items()}
                for d in self.diagnostics]
        return json.dumps(safe, ensure_ascii=False, indent=2) + "\n"


def _counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class Recorder:
    """Stands in for a Report in a worker process: keeps the calls for Report.replay."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def error(self, *args, **kwargs) -> None:
        self.calls.append(("error", args, kwargs))

    def warning(self, *args, **kwargs) -> None:
        self.calls.append(("warning", args, kwargs))

    def tick(self, *_args) -> None:
        pass  # progress is told by the parent as results arrive
