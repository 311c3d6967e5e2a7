"""`python -m bibport` and the `bibport` command (top layer): start-up stays cheap."""

import os
import sys

from bibport import __version__


def _columns() -> int:
    """The terminal width click would format for (shutil.get_terminal_size's rules, without shutil)."""
    try:
        return int(os.environ["COLUMNS"]) or 80
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def entry() -> None:
    """Run the CLI; `--version` and `--help` are answered before click and the formats are imported."""
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"bibport, version {__version__}\n")
        return
    if sys.argv[1:] in (["--help"], ["-h"]) and _columns() >= 80:
        from bibport._help import TEXT  # click's own text, stored by `make docs` (checked by a test)

        sys.stdout.write(TEXT)
        return
    from bibport.cli import main

    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code
    _exit_now(code)


def _exit_now(code) -> None:
    """Exit without tearing the heap down object by object (a tenth of a 10k-entry run); the output
    file is already complete and renamed, and no atexit work of ours is pending."""
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the reader went away (`| head`): nothing more to say
        code = code or 1
    try:
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code or 0)


if __name__ == "__main__":
    entry()
