"""Shared test helpers: paths, ../shared data, the CSL-JSON schema validator, tool detection."""

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
READING_LIST = REFS / "reading-list.txt"  # what refs/ was built from (a copy of ../shared/seed/)


def require_shared(*parts: str) -> Path:
    """A path under ../shared (corpora, schemas, tools): absent, as in a fresh clone, the test (or, called
    at import, its module) skips saying so; in CI, which has ../shared, absence is a failure."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"needs {path}: shared test data beside the checkout (CI has it)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return path


def shared_files(folder: str, pattern: str, marks=()) -> list:
    """parametrize values: the files of a ../shared folder (each with marks); when it is absent, one
    value that skips (require_shared's rules: in CI the collection fails)."""
    if IN_CI or (SHARED / folder).is_dir():
        return [pytest.param(p, marks=marks) for p in sorted(require_shared(folder).glob(pattern))]
    return [pytest.param(None, id=f"no-shared-{folder}",
                         marks=pytest.mark.skip(reason=f"needs {SHARED / folder}: shared test data beside "
                                                       "the checkout (CI has it)"))]


def require_tool(*names: str) -> None:
    """Skip when a real tool is missing locally; in CI a missing tool is a failure."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        message = f"needs {', '.join(missing)} (installed by .ci/run)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


# test_hostile's session fixtures run every hostile file through every command as processes (a minute
# or more on two cores): each test reading their results is slow, whatever else it checks.
HOSTILE_SWEEPS = {"runs", "generated_runs"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ == "test_hostile" and HOSTILE_SWEEPS & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def csl_validator():
    """A jsonschema validator for the official CSL-JSON data schema."""
    import jsonschema

    schema = json.loads(require_shared("schemas", "csl-data.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def assert_schema_valid(validator, items) -> None:
    """Every item valid against csl-data.json, with readable messages when not."""
    errors = sorted(validator.iter_errors(items), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
