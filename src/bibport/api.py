"""Python API (above formats): read, write, convert, load_refs, atomic file output.

    import bibport
    items = bibport.read("refs/")                 # a file, a folder, or BibTeX/RIS/JSON text
    print(bibport.write(items, "ris"))
    text = bibport.convert("refs/", "csljson", profile="zotero")

Without an explicit `report`, problems raise BibportError (carrying the Report); with one, they are
recorded there and the good items are returned, as the CLI does. A path that does not exist is such
a problem (`read("refs/typo.bib")` raises), never text; each input may hold at most max_input_size
bytes (MAX_INPUT_SIZE, 256 MiB, unless told otherwise).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bibport import formats
from bibport.diagnostics import Report

MAX_LISTED_BAD_LINES = 20
MAX_INPUT_SIZE = 256 * 1024 * 1024  # per input: a runaway FIFO or /dev/zero stops here, not at memory's end
_CHUNK = 1 << 20
_FIRST_BLOCK = 1 << 16               # where NUL bytes mark an input as binary: it starts with one, or
_STRAY_NULS = 8                      # holds more than this many (UTF-16 text, /dev/zero, random bytes)


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


_BIBTEX_ENTRY = re.compile(r"^[ \t]*@[ \t]*\w+[ \t]*[{(]", re.MULTILINE)


def _sniff(text: str, *, default: str | None = "bibtex") -> str | None:
    """Guess a format from content when there is no file name to go by; `default` when nothing
    in the text says (None: the caller refuses to guess)."""
    head = text.lstrip("\ufeff \t\r\n")[:200]
    if head.startswith(("[", "{")) and not head.startswith("{\\"):
        return "csljson"
    if head.startswith("TY  -") or head[:6].rstrip().startswith("TY  -"):
        return "ris"
    if default is None and _BIBTEX_ENTRY.search(text):  # searched only when the answer matters
        return "bibtex"
    return default


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


def parse_size(text: str | int) -> int:
    """Bytes from a size such as 268435456, 512K, 256M or 2G (multiples of 1024)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 512M, 2G, or a number of bytes)")
    return int(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")


def _size_name(size: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size} bytes"


def _binary(block: bytes, encoding: str | None) -> str | None:
    """Why a first block of input is no text in `encoding`, or None."""
    try:
        if b"\0" in "@a".encode(encoding or "utf-8"):
            return None  # UTF-16/32: NUL bytes are part of the text
    except (LookupError, UnicodeError):
        return None  # decode() reports the unknown encoding
    count = block.count(b"\0")
    if count <= _STRAY_NULS and not block.startswith(b"\0"):
        return None  # a stray NUL inside text: the reader names the entry that holds it
    if block.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "NUL bytes after a UTF-16/32 byte order mark: give the encoding with --encoding (e.g. utf-16)"
    first = block.find(b"\0")
    return f"binary data, not a text bibliography ({count} NUL bytes in its first {len(block)}, from offset {first})"


def _read_limited(stream, source: str, report: Report, limit: int, encoding: str | None) -> bytes | None:
    """The whole of a binary stream, read in chunks; None (reported) once it passes limit bytes or
    its first block is binary: /dev/zero or an endless FIFO is never read to the end."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_CHUNK if chunks else _FIRST_BLOCK)
        if isinstance(chunk, str):
            chunk = chunk.encode()
        if not chunk:
            return b"".join(chunks)
        if not chunks:
            problem = _binary(chunk, encoding)
            if problem:
                report.error("binary-input", problem, source=source)
                return None
        size += len(chunk)
        if size > limit:
            report.error("input-too-large", f"larger than {_size_name(limit)}, the input size limit "
                         "(raise it with --max-input-size)", source=source)
            return None
        chunks.append(chunk)


def _read_input(path: str, report: Report, *, stdin, limit: int, encoding: str | None) -> bytes | None:
    """The bytes of a file or of '-' (stdin), or None with the reason reported."""
    source = "<stdin>" if path == "-" else path
    try:
        if path != "-":
            with open(path, "rb", buffering=0) as stream:
                return _read_limited(stream, source, report, limit, encoding)
        if stdin is not None:
            return _read_limited(stdin, source, report, limit, encoding)
        with os.fdopen(0, "rb", buffering=0, closefd=False) as stream:
            return _read_limited(stream, source, report, limit, encoding)
    except OSError as problem:
        closed = path == "-" and problem.errno == errno.EBADF
        report.error("io", "cannot read: standard input is closed" if closed
                     else f"cannot read: {problem.strerror or problem}", source=source)
        return None


def _readable_suffixes(fmt_name: str | None) -> list[tuple[str, formats.Format]]:
    wanted = [_format_for(fmt_name, None)] if fmt_name else [f for f in formats.FORMATS.values() if f.readable]
    return [(suffix, fmt) for fmt in wanted for suffix in fmt.suffixes]


def _folder(path: str, fmt_name: str | None, report: Report) -> list[tuple[str, str | None]]:
    """The files of a folder that a reader can read (every readable suffix, or those of fmt_name), in
    name order; what is skipped is said, and a folder with nothing to read is an error."""
    suffixes = _readable_suffixes(fmt_name)
    try:
        entries = sorted(Path(path).iterdir())
    except OSError as problem:
        report.error("io", f"cannot read the folder: {problem.strerror}", source=path)
        return []
    found = []
    for entry in entries:
        lowered = entry.name.lower()
        matches = [(len(suffix), fmt) for suffix, fmt in suffixes if lowered.endswith(suffix)]
        if not matches:
            continue
        fmt = max(matches, key=lambda match: match[0])[1]  # the longest suffix: x.biblatex.bib
        if entry.is_file():
            found.append((str(entry), fmt.name))
        elif entry.is_symlink() and not entry.exists():
            report.warning("io", "skipped: a symbolic link to nothing", source=str(entry))
        elif not entry.is_dir():
            report.warning("io", "skipped: not a regular file", source=str(entry))
    if not found:
        names = ", ".join(dict.fromkeys(suffix for suffix, _ in suffixes))
        report.error("empty-folder", f"no file to read here (looked for {names})", source=path)
    return found


def _expand(sources, fmt_name: str | None, report: Report) -> list[tuple[str, str | None]]:
    """(path or '-', format name) for each input; folders give their files in sorted order."""
    out = []
    for source in sources:
        path = str(source)
        if path != "-" and os.path.isdir(path):
            out += _folder(path, fmt_name, report)
        else:
            out.append((path, fmt_name))
    return out


def read_sources(sources, report: Report, *, format: str | None = None, encoding: str | None = None,
                 stdin=None, max_input_size: int | str = MAX_INPUT_SIZE) -> list[dict]:
    """Read files, folders or '-' (stdin) into one list of items, recording problems in report.
    Each input may hold at most max_input_size bytes (a number, or '512M', '2G')."""
    limit = parse_size(max_input_size)
    items: list[dict] = []
    for path, fmt_name in _expand(sources, format, report):
        data = _read_input(path, report, stdin=stdin, limit=limit, encoding=encoding)
        if data is None:
            continue
        source = "<stdin>" if path == "-" else path
        text = decode(data, report, source=source, encoding=encoding)
        if fmt_name:
            fmt = _format_for(fmt_name, None)
        elif path == "-":
            fmt = formats.get(_sniff(text))
        else:
            fmt = formats.guess(path)
            if fmt is None:  # no suffix to go by: the content says, or the user must
                sniffed = _sniff(text, default=None)
                if sniffed is None:
                    report.error("unknown-format", f"cannot tell the format of {path}: use --from", source=path)
                    continue
                fmt = formats.get(sniffed)
        undecodable = "\ufffd" in text and "\ufffd".encode() not in data
        del data  # the bytes are not needed while reading: a large file is not held twice
        found = fmt.read(text, report, source=source)
        if undecodable:
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
    """A path, not text: what exists, or one line that no reader would take for its text (BibTeX
    text holds '@'), so that a typo (`refs/typo.bib`, `refs2`) is an error naming it, not []."""
    if isinstance(source, os.PathLike):
        return True
    if not isinstance(source, str) or not source.strip() or "\n" in source or "\r" in source or len(source) >= 4096:
        return False
    if os.path.exists(source):
        return True
    if source.lstrip().startswith(("[", "{", "TY  -")) or _BIBTEX_ENTRY.search(source):
        return False  # CSL-JSON, RIS or BibTeX text on one line
    known = tuple(suffix for fmt in formats.FORMATS.values() for suffix in fmt.suffixes)
    return source.lower().endswith(known) or "@" not in source


def read(source, format: str | None = None, *, report: Report | None = None,
         encoding: str | None = None, max_input_size: int | str = MAX_INPUT_SIZE) -> list[dict]:
    """Read a path, a folder, or text into CSL items."""
    own = report is None
    report = report if report is not None else Report()
    if isinstance(source, (list, tuple)):
        items = read_sources(source, report, format=format, encoding=encoding, max_input_size=max_input_size)
    elif _looks_like_path(source):
        items = read_sources([source], report, format=format, encoding=encoding, max_input_size=max_input_size)
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
            encoding: str | None = None, max_input_size: int | str = MAX_INPUT_SIZE, **options) -> str:
    """Read source and write it in another format."""
    own = report is None
    report = report if report is not None else Report()
    items = read(source, from_, report=report, encoding=encoding, max_input_size=max_input_size)
    text = write(items, to, report=report, **options)
    if own and report.failed:
        raise BibportError(report)
    return text


def check(sources, report: Report, *, ascii_expected: bool = True, encoding: str | None = None,
          stdin=None, max_input_size: int | str = MAX_INPUT_SIZE) -> tuple[int, int]:
    """Lint BibTeX files/folders/'-' into report; returns (entries checked, files read)."""
    from bibport.formats import bibtex_check

    limit = parse_size(max_input_size)
    seen = bibtex_check.Seen()  # keys and DOIs are compared across all the files
    entries = files = 0
    for path, _ in _expand(sources, "bibtex", report):
        data = _read_input(path, report, stdin=stdin, limit=limit, encoding=encoding)
        if data is None:
            continue
        name = "<stdin>" if path == "-" else path
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


def style_catalog(query: str | None = None, kinds=None) -> list:
    """StyleInfo(name, title, kind, parent) of every style of the given kinds (default: all of
    "house", "independent", "dependent") matching query."""
    from bibport.formats import bibliography

    return bibliography.catalog(query, tuple(kinds) if kinds else bibliography.STYLE_KINDS)


def load_refs(folder: str | os.PathLike = "refs") -> list[dict]:
    """All entries of a folder of canonical .bib files, in file-name order."""
    return read(Path(folder), "bibtex")


# A descriptor link names a file the caller already has open (`-o /dev/stdout`, `-o >(gzip)`).
_DESCRIPTOR = re.compile(r"/(?:proc/[^/]+/fd|dev/fd)/\d+|/dev/std(?:out|err)")
_MAX_LINKS = 40  # as the kernel allows
_temporary: dict[str, int] = {}  # temporary files being written -> the process writing them


def remove_temporary_files() -> None:
    """Remove the temporary files this process is writing: what a SIGTERM handler does before exiting
    (an exception raised from a handler can be swallowed, e.g. in an at-fork callback)."""
    for name, pid in list(_temporary.items()):
        if pid == os.getpid():  # never a parent's, from a forked worker
            try:
                os.unlink(name)
            except OSError:
                pass


def _final_target(path: str) -> tuple[str, bool]:
    """Where writing `path` lands: the end of its chain of symbolic links (its folders resolved),
    and whether the chain passes through a descriptor link."""
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        if _DESCRIPTOR.fullmatch(current):
            return current, True
        folder = os.path.realpath(os.path.dirname(current))
        try:
            link = os.readlink(current)
        except OSError:  # no link (or nothing at all): the chain ends here
            return os.path.join(folder, os.path.basename(current)), False
        current = os.path.normpath(os.path.join(folder, link))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


def write_file(path: str | os.PathLike, text: str | Iterable[str], *, keep: Callable[[], bool] | None = None) -> bool:
    """Write text (a string or pieces of it) to path; True if written. A regular file (or a new one)
    is written atomically: a temporary file beside it, renamed only when complete and when keep()
    (asked once everything is made) allows it; its mode is kept. A symbolic link is followed, so it
    stays a link. What is not a regular file (a device, a FIFO, a socket, a descriptor such as
    /dev/stdout) is never replaced: it is opened and written through."""
    target, descriptor = _final_target(os.fspath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None  # a new file (a dangling link's target included)
    if descriptor or (mode is not None and not stat.S_ISREG(mode)):
        # a descriptor onto a regular file (`-o /dev/stdout >> log`) goes on where that file ends
        return _write_through(target, text, keep, append=mode is not None and stat.S_ISREG(mode))
    blocked = _block_signals()  # no handler may run between making the file and noting it
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp",
                                             dir=os.path.dirname(target))
        _temporary[temp_name] = os.getpid()
    finally:
        _unblock_signals(blocked)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            for piece in [text] if isinstance(text, str) else text:
                stream.write(piece)
            stream.flush()
            os.fsync(stream.fileno())
        if keep is not None and not keep():
            os.unlink(temp_name)
            return False
        if mode is not None:
            os.chmod(temp_name, mode & 0o7777)
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
    finally:
        _temporary.pop(temp_name, None)


def _block_signals():
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def _unblock_signals(previous) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _write_through(target: str, text: str | Iterable[str], keep: Callable[[], bool] | None, *,
                   append: bool) -> bool:
    """Write into what is already there, without a temporary file. Nothing can be taken back from a
    device or a pipe, so when keep() may veto, the whole text is made first and keep() asked before
    a byte is written."""
    if keep is not None:
        text = text if isinstance(text, str) else "".join(text)
        if not keep():
            release_output(target)
            return False
    flags = os.O_WRONLY | (os.O_APPEND if append else 0) | getattr(os, "O_CLOEXEC", 0)
    with os.fdopen(os.open(target, flags), "w", encoding="utf-8", newline="") as stream:
        for piece in [text] if isinstance(text, str) else text:
            stream.write(piece)
    return True


def release_output(path: str | os.PathLike) -> None:
    """For a run that writes nothing to path: if it is a FIFO, open and close it (without waiting when
    no one reads) so that a reader waiting for a writer sees an empty input end instead of hanging."""
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


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
