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

    main()


if __name__ == "__main__":
    entry()
