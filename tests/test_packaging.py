"""An installed bibport (a wheel, not this checkout) carries every module and the house styles, and
finds them: src/bibport/house_styles links to styles/, and the wheel gets copies of its files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "bibport"


def test_house_styles_link_is_the_styles_folder():
    link = PACKAGE / "house_styles"
    assert link.is_symlink() and link.resolve() == (ROOT / "styles").resolve()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools missing: `make` installs it with the test extras")
    out = tmp_path_factory.mktemp("wheel")
    # no build isolation: builds offline with this venv's setuptools
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("bibport-*.whl")
    return built


def test_wheel_holds_modules_and_house_styles(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {"bibport/" + p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    styles = {"bibport/house_styles/" + p.name for p in (ROOT / "styles").glob("*.csl")}
    assert styles and modules <= names and styles <= names


def test_installed_copy_finds_its_house_styles(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    probe = "from bibport.formats import bibliography as b; print(b.resolve_style('reading-list'))"
    # the unpacked wheel comes first on sys.path, ahead of this checkout's editable install
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == tmp_path / "site" / "bibport" / "house_styles" / "reading-list.csl"
