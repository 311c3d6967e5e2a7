"""`python -m bibport` and the `bibport` command (top layer): start-up stays cheap."""

import sys

from bibport import __version__


def entry() -> None:
    """Run the CLI; `--version` is answered before click and the formats are imported."""
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"bibport, version {__version__}\n")
        return
    from bibport.cli import main

    main()


if __name__ == "__main__":
    entry()
