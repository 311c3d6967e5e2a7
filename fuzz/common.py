"""Shared harness for the atheris targets: one reader per target, anything but a diagnostic is a crash."""

from __future__ import annotations

import sys


def reader_target(name: str):
    """TestOneInput for formats.get(name).read: never raise, items always writable."""
    from bibport import formats
    from bibport.diagnostics import Report

    reader = formats.get(name)
    writers = [formats.get(w) for w in ("csljson", "ris", "bibtex", "biblatex")]

    def test_one_input(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        report = Report()
        items = reader.read(text, report, source="fuzz")
        for item in items:
            if not isinstance(item, dict) or "id" not in item or "type" not in item:
                raise AssertionError(f"reader returned a malformed item: {item!r:.200}")
        for writer in writers:
            writer.write(items, Report())
        for diagnostic in report.diagnostics:
            diagnostic.render()

    return test_one_input


def main(test_one_input) -> None:
    import atheris

    sys.setrecursionlimit(10_000)  # as the CLI has it: deep input must be handled, not recursed into
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
