"""Python API (above formats): read, write, convert, load_refs, atomic file output.

    import bibport
    items = bibport.read("refs/")                 # a file, a folder, or BibTeX/RIS/JSON text
    print(bibport.write(items, "ris"))
    text = bibport.convert("refs/", "csljson", profile="zotero")

Without an explicit `report`, problems raise BibportError (carrying the Report); with one, they are
recorded there and the good items are returned, as the CLI does.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bibport import formats
from bibport.diagnostics import Report

MAX_LISTED_BAD_LINES = 20


class BibportError(Exception):
    """Input problems; `.report` holds every diagnostic."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(report.render().rstrip() or "bibport: failed")


def _format_for(name: str | None, path: str | None) -> formats.Format:
    if name:
        try:
            return formats.get(name)
        except KeyError:
            raise ValueError(f"unknown format {name!r}; known: {', '.join(formats.FORMATS)}") from None
    guessed = formats.guess(path) if path else None
    return guessed or formats.get("bibtex")


def _sniff(text: str) -> str:
    """Guess a format from content when there is no file name to go by."""
    head = text.lstrip("\ufeff \t\r\n")[:200]
    if head.startswith(("[", "{")) and not head.startswith("{\\"):
        return "csljson"
    if head.startswith("TY  -") or head[:6].rstrip().startswith("TY  -"):
        return "ris"
    return "bibtex"


def decode(data: bytes, report: Report, *, source: str, encoding: str | None = None) -> str:
    """Bytes to text: UTF-8 (BOM allowed) unless told otherwise; bad lines are reported, not guessed."""
    if data.startswith(b"\xef\xbb\xbf") and not encoding:
        data = data[3:]
    codec = encoding or "utf-8"
    try:
        return data.decode(codec)
    except LookupError:
        report.error("encoding", f"unknown encoding {codec!r}", source=source)
        return ""
    except UnicodeDecodeError:
        pass
    bad_lines = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode(codec)
        except UnicodeDecodeError as problem:
            bad_lines.append((number, problem.start + 1))
    for number, column in bad_lines[:MAX_LISTED_BAD_LINES]:
        report.error("encoding", f"bytes that are not {codec} (column {column}); "
                     "give the file's encoding with --encoding", source=source, line=number)
    if len(bad_lines) > MAX_LISTED_BAD_LINES:
        report.error("encoding", f"{len(bad_lines) - MAX_LISTED_BAD_LINES} more lines with bad bytes",
                     source=source)
    return data.decode(codec, errors="replace")


def _expand(sources, fmt_name: str | None) -> list[tuple[str, str | None]]:
    """(path or '-', format name) for each input; folders give their files in sorted order."""
    out = []
    for source in sources:
        path = str(source)
        if path != "-" and os.path.isdir(path):
            fmt = _format_for(fmt_name, None) if fmt_name else formats.get("bibtex")
            suffixes = fmt.suffixes
            found = sorted(p for p in Path(path).iterdir()
                           if p.is_file() and p.name.lower().endswith(suffixes))
            out += [(str(p), fmt.name) for p in found]
        else:
            out.append((path, fmt_name))
    return out


def read_sources(sources, report: Report, *, format: str | None = None, encoding: str | None = None,
                 stdin=None) -> list[dict]:
    """Read files, folders or '-' (stdin) into one list of items, recording problems in report."""
    items: list[dict] = []
    for path, fmt_name in _expand(sources or ["-"], format):
        if path == "-":
            data = (stdin.read() if stdin is not None else os.fdopen(0, "rb", closefd=False).read())
            data = data.encode() if isinstance(data, str) else data
            text = decode(data, report, source="<stdin>", encoding=encoding)
            fmt = formats.get(fmt_name or _sniff(text))
            source = "<stdin>"
        else:
            try:
                data = Path(path).read_bytes()
            except OSError as problem:
                report.error("io", f"cannot read: {problem.strerror}", source=path)
                continue
            fmt = _format_for(fmt_name, path)
            text = decode(data, report, source=path, encoding=encoding)
            source = path
        found = fmt.read(text, report, source=source)
        if "\ufffd" in text and "\ufffd".encode() not in data:
            # never write mojibake: entries holding undecodable bytes are skipped, and named
            kept = []
            for item in found:
                if "\ufffd" in repr(item):
                    report.error("encoding", f"entry skipped: it holds bytes that are not {encoding or 'utf-8'}",
                                 source=source, key=str(item.get("id")))
                else:
                    kept.append(item)
            found = kept
        for item in found:
            report.origins.setdefault(str(item.get("id")), source)
        items += found
    return items


def _looks_like_path(source) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and "\n" not in source and len(source) < 4096 and os.path.exists(source)


def read(source, format: str | None = None, *, report: Report | None = None,
         encoding: str | None = None) -> list[dict]:
    """Read a path, a folder, or text into CSL items."""
    own = report is None
    report = report if report is not None else Report()
    if isinstance(source, (list, tuple)):
        items = read_sources(source, report, format=format, encoding=encoding)
    elif _looks_like_path(source):
        items = read_sources([source], report, format=format, encoding=encoding)
    else:
        text = source.decode() if isinstance(source, bytes) else str(source)
        items = formats.get(format or _sniff(text)).read(text, report, source="<text>")
    if own and report.failed:
        raise BibportError(report)
    return items


def write(items, format: str, *, report: Report | None = None, **options) -> str:
    """Serialise items in a format (csljson, bibtex, biblatex, ris, bibliography)."""
    own = report is None
    report = report if report is not None else Report()
    text = _format_for(format, None).write(items, report, **options)
    if own and report.failed:
        raise BibportError(report)
    return text


def iter_write(items, format: str, *, report: Report, **options) -> Iterator[str]:
    """Serialise items as consecutive pieces of text, made as they are needed (stream them to a file
    or stdout; formats that cannot stream give one piece). Problems go to report."""
    return _format_for(format, None).records(items, report, **options)


def convert(source, to: str, *, from_: str | None = None, report: Report | None = None,
            encoding: str | None = None, **options) -> str:
    """Read source and write it in another format."""
    own = report is None
    report = report if report is not None else Report()
    items = read(source, from_, report=report, encoding=encoding)
    text = write(items, to, report=report, **options)
    if own and report.failed:
        raise BibportError(report)
    return text


def check(sources, report: Report, *, ascii_expected: bool = True, encoding: str | None = None,
          stdin=None) -> tuple[int, int]:
    """Lint BibTeX files/folders/'-' into report; returns (entries checked, files read)."""
    from bibport.formats import bibtex_check

    seen = bibtex_check.Seen()  # keys and DOIs are compared across all the files
    entries = files = 0
    for path, _ in _expand(sources or ["-"], "bibtex"):
        if path == "-":
            data = stdin.read() if stdin is not None else os.fdopen(0, "rb", closefd=False).read()
            name = "<stdin>"
        else:
            try:
                data, name = Path(path).read_bytes(), path
            except OSError as problem:
                report.error("io", f"cannot read: {problem.strerror}", source=path)
                continue
        text = decode(data, report, source=name, encoding=encoding)
        entries += bibtex_check.check(text, report, source=name, ascii_expected=ascii_expected, seen=seen)
        files += 1
    return entries, files


def read_sections(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(keyword, heading) pairs from a tab-separated file, in file order; '#' starts a comment."""
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        keyword, sep, heading = line.partition("\t")
        if not sep or not keyword.strip() or not heading.strip():
            raise ValueError(f"{path}:{number}: expected 'keyword<TAB>heading'")
        pairs.append((keyword.strip(), heading.strip()))
    return pairs


def list_styles(query: str | None = None) -> list[tuple[str, str]]:
    """(name, title) of every CSL style bibport can render with, filtered by query."""
    from bibport.formats import bibliography

    return bibliography.list_styles(query)


def load_refs(folder: str | os.PathLike = "refs") -> list[dict]:
    """All entries of a folder of canonical .bib files, in file-name order."""
    return read(Path(folder), "bibtex")


def write_file(path: str | os.PathLike, text: str | Iterable[str], *, keep: Callable[[], bool] | None = None) -> bool:
    """Write text (a string or pieces of it) atomically: a temporary file beside the target, renamed
    only when complete and when keep() (asked once everything is written) allows it."""
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            for piece in [text] if isinstance(text, str) else text:
                stream.write(piece)
            stream.flush()
            os.fsync(stream.fileno())
        if keep is not None and not keep():
            os.unlink(temp_name)
            return False
        if target.exists():
            os.chmod(temp_name, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temp_name, 0o666 & ~umask)
        os.replace(temp_name, target)
        return True
    except BaseException:  # Ctrl-C included: never leave the temporary file behind
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


def citations(items, clusters, *, style: str = "apa", locale: str | None = None, format: str = "text",
              report: Report | None = None) -> list[str]:
    """One rendered in-text citation per cluster (a list of cite items: {"id", "locator", "label",
    "prefix", "suffix", "suppress-author", "author-only"}), in a CSL style."""
    from bibport.formats import citations as cite

    own = report is None
    report = report if report is not None else Report()
    out = cite.citations(items, clusters, report, style=style, locale=locale, format=format)
    if own and report.failed:
        raise BibportError(report)
    return out


def bibliography(items, *, style: str = "apa", locale: str | None = None, format: str = "text",
                 report: Report | None = None, clusters=None) -> list[str]:
    """The bibliography entries of items in the style's order; given the clusters passed to
    citations(), numeric styles number the works as those citations do."""
    from bibport.formats import citations as cite

    own = report is None
    report = report if report is not None else Report()
    out = cite.bibliography(items, report, style=style, locale=locale, format=format, clusters=clusters)
    if own and report.failed:
        raise BibportError(report)
    return out


def write_cited(items, clusters, *, all_works: bool = False, report: Report, **options) -> str:
    """A bibliography with its in-text citations above it (the CLI's `render --cite`): one citation
    per cluster, then the cited works only (all_works: every work, the cited ones numbered first)."""
    from bibport.formats import citations as cite

    chosen = cite.cited_first(list(items), clusters, all_works)
    output = options.get("output", "text")
    scratch = Report()  # the bibliography below reports the items' own problems once
    cited, suffixes = cite.citations_and_suffixes(chosen, clusters, scratch, style=options.get("style", "apa"),
                                                  locale=options.get("locale"), format=output)
    for diagnostic in scratch.diagnostics:
        if scratch.failed or diagnostic.code in ("bad-cite", "unknown-cite-key", "render-failed"):
            report.diagnostics.append(diagnostic)
    if scratch.failed:
        return ""
    if not suffixes:
        body = write(chosen, "bibliography", report=report, **options)
    else:  # the entries show the year-suffixes the citations print (rendered serially: see year_suffix_rendering)
        chosen = [dict(it, **{"year-suffix": suffixes[it["id"]]}) if it.get("id") in suffixes else it for it in chosen]
        with cite.year_suffix_rendering(options.get("style", "apa"), options.get("locale")):
            body = write(chosen, "bibliography", report=report, **dict(options, jobs=1))
    return cite.prepend(cited, body, output) if body else ""
