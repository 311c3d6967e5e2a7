"""CSL rich text -> plain text (values layer: pure, stdlib only).

CSL-JSON titles carry a small HTML-like markup (<i>, <b>, <sup>, <sub>, <span ...>). Plain-text
formats (RIS) and keys need the bare text: the tags go, their content stays. Any other `<` is text.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"</?(?:i|b|sup|sub)>|<span(?:\s[^<>]*)?>|</span>", re.IGNORECASE)


def strip_markup(rich: str) -> str:
    """Drop <i> <b> <sup> <sub> <span ...> tags (and their closing tags), keeping the content."""
    return _TAG.sub("", rich)
