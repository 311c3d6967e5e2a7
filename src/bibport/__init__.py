"""bibport: canonical BibTeX in; CSL-JSON, RIS, BibTeX/BibLaTeX and CSL bibliographies out.

The public API lives in `bibport.api`; names are loaded lazily so importing the package is cheap.
"""

__version__ = "0.1.0"
__all__ = ["read", "write", "convert", "load_refs", "citations", "bibliography", "Report", "Diagnostic", "BibportError"]


def __getattr__(name):
    if name in ("read", "write", "convert", "load_refs", "citations", "bibliography", "BibportError"):
        from bibport import api

        return getattr(api, name)
    if name in ("Report", "Diagnostic"):
        from bibport import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(name)
