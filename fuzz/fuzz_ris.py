"""atheris target: the ris reader (and every writer on what it returns)."""

import atheris

with atheris.instrument_imports(include=["bibport"]):
    # imported here, eagerly, so that the lazily loaded format modules get coverage instrumentation
    from common import main, reader_target

    import bibport.formats.bibtex  # noqa: F401
    import bibport.formats.csljson  # noqa: F401
    import bibport.formats.ris  # noqa: F401

if __name__ == "__main__":
    main(reader_target("ris"))
