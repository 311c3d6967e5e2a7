"""A clone on its own tests cleanly: ../shared is read only through conftest's helpers, which skip
without it (and fail in CI); what the project is built from lives in the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import conftest

TESTS = conftest.ROOT / "tests"


def test_shared_data_only_through_the_helpers():
    direct = []
    for path in sorted(TESTS.glob("*.py")):
        if path.name in ("conftest.py", Path(__file__).name):  # the helpers and their own tests
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bSHARED\b|[\"']shared/|/ \"shared\"", line):
                direct.append(f"{path.name}:{number}: {line.strip()}")
    assert not direct, "use require_shared()/shared_files():\n" + "\n".join(direct)


def test_reading_list_is_in_the_project():
    assert conftest.READING_LIST.is_relative_to(conftest.ROOT)
    assert "Xen and the Art of Virtualization" in conftest.READING_LIST.read_text(encoding="utf-8")


def test_absent_shared_data_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "shared")
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="shared/corpus"):
        conftest.require_shared("corpus")
    [placeholder] = conftest.shared_files("corpus", "*.bib")
    assert [m.name for m in placeholder.marks] == ["skip"] and placeholder.id == "no-shared-corpus"
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="shared/corpus"):
        conftest.require_shared("corpus")
    with pytest.raises(pytest.fail.Exception):
        conftest.shared_files("corpus", "*.bib")


def test_present_shared_data_is_returned(monkeypatch, tmp_path):
    (tmp_path / "shared" / "corpus").mkdir(parents=True)
    (tmp_path / "shared" / "corpus" / "a.bib").write_text("", encoding="utf-8")
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "shared")
    assert conftest.require_shared("corpus", "a.bib") == tmp_path / "shared" / "corpus" / "a.bib"
    assert [p.values[0].name for p in conftest.shared_files("corpus", "*.bib")] == ["a.bib"]
