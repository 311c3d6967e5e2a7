"""CSL-JSON reader and writer (format layer).

The writer emits a JSON array of normalised items, UTF-8, two-space indent, one trailing newline.
"""

from __future__ import annotations

import json

from bibport import csl


def write(items, report, *, profile: str = "csl", **_options) -> str:
    """Serialise items as a CSL-JSON array."""
    out = [csl.normalize(item) for item in items]
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


def read(text, report, *, source=None):
    """Parse a CSL-JSON array into items (full validation: see the RIS/CSL-JSON issue)."""
    return [dict(item) for item in json.loads(text)]
