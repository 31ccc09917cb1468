"""The Dockerfile installs the built wheel (`pip install .`), not the checkout: every Python package and
every file the code reads beside itself (database functions, named queries) must be in it. The
wheel's contents follow pyproject's [tool.setuptools] tables with setuptools' rules (package names
matched by fnmatch against `packages.find.include`, data files by `package-data` globs), checked here
against the tree without building (a build needs the package index)."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("api", "domain", "linli", "bench")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_of_the_code_is_in_the_wheel():
    include = _config().get("packages", {}).get("find", {}).get("include", [])
    packages = sorted(".".join(p.parent.relative_to(ROOT).parts) for top in TOPS
                      for p in (ROOT / top).rglob("__init__.py"))
    assert len(packages) > len(TOPS)  # sub-packages exist: a list of top-level names alone leaves them out
    missing = [p for p in packages if not any(fnmatch.fnmatchcase(p, pattern) for pattern in include)]
    assert missing == []


def test_every_file_the_code_reads_beside_itself_is_in_the_wheel():
    patterns = [g for globs in _config().get("package-data", {}).values() for g in globs]
    data = [p for top in TOPS for p in (ROOT / top).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and p.name != "README.md"]
    assert any(p.suffix == ".sql" for p in data)
    missing = [p.relative_to(ROOT).as_posix() for p in data
               if not any(fnmatch.fnmatch(p.name, g) for g in patterns)]
    assert missing == []
