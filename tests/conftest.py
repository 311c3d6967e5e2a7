"""Shared test helpers: paths, the CSL-JSON schema validator, tool detection."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CASES = ROOT / "tests" / "cases"
REFS = ROOT / "refs"
IN_CI = os.environ.get("CI") == "true"


def require_tool(*names: str) -> None:
    """Skip when a real tool is missing locally; in CI a missing tool is a failure."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        message = f"needs {', '.join(missing)} (installed by .ci/run)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def csl_validator():
    """A jsonschema validator for the official CSL-JSON data schema."""
    import jsonschema

    schema = json.loads((SHARED / "schemas" / "csl-data.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def assert_schema_valid(validator, items) -> None:
    """Every item valid against csl-data.json, with readable messages when not."""
    errors = sorted(validator.iter_errors(items), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
