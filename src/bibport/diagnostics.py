"""Diagnostics: what went wrong where (bottom layer, stdlib only).

Readers and writers never raise on bad data: they add a Diagnostic to a Report and go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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


@dataclass
class Report:
    """Collects diagnostics; under `strict`, warnings count as failures."""

    strict: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # entry key -> file it was read from
    # told (stage, done, total) as long runs advance; the CLI draws progress bars with it
    progress: Callable[[str, int, int], None] | None = field(default=None, repr=False, compare=False)

    def add(self, severity: str, code: str, message: str, *, source=None, line=None, key=None) -> None:
        """Record one diagnostic (a writer's, which knows only the key, gets the key's file)."""
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

    def replay(self, calls: list[tuple[str, tuple, dict]]) -> None:
        """Apply calls a Recorder took down (in a worker process), in their order."""
        for method, args, kwargs in calls:
            getattr(self, method)(*args, **kwargs)

    def to_json(self) -> str:
        """The diagnostics as a JSON array, for scripts."""
        safe = [{k: sanitize(v) if isinstance(v, str) else v for k, v in asdict(d).items()}
                for d in self.diagnostics]
        return json.dumps(safe, ensure_ascii=False, indent=2) + "\n"


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
