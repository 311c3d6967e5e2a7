"""`python -m bibport` runs the CLI."""

from bibport.cli import main

main()
