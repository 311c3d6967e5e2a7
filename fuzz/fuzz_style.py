"""atheris target: CSL style loading (untrusted XML): only StyleError may come out."""

import atheris

with atheris.instrument_imports(include=["bibport", "lxml"]):
    from bibport.formats import bibliography

from common import main


def test_one_input(data: bytes) -> None:
    try:
        root = bibliography.parse_untrusted(data, "fuzz.csl")
        if root.tag == f"{{{bibliography.CSL_NS}}}style":
            bibliography._check_macros(root, "fuzz.csl")
    except bibliography.StyleError:
        pass


if __name__ == "__main__":
    main(test_one_input)
