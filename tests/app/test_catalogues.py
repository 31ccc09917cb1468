"""The message catalogues (frontend/js/i18n.js says how they are laid out): every file loads as an ES
module, both languages have the same files with the same keys, each key is in the one file its
prefix names, and every page loads every key its HTML and scripts use. A key a page does not load
shows as its raw name (a merge that drops a comma breaks every page that loads the file)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
I18N = FRONTEND / "i18n"
LANGS = ("zh-CN", "en")
SHELL = {"a11y", "account", "app", "common", "error", "lang", "nav", "title", "unit"}  # common.js's prefixes
NODE = shutil.which("node") or "node"  # Node 20 is on every machine of ours and CI's
PAGES = sorted(FRONTEND.glob("*.html"))


def load(lang: str) -> dict[str, set[str]]:
    """{file name: its keys}, each file imported by Node as the browser would."""
    files = sorted((I18N / lang).glob("*.js"))
    script = ("Promise.all(process.argv.slice(1).map(f => import(f)))"
              ".then(ms => console.log(JSON.stringify(ms.map(m => Object.keys(m.default)))))")
    out = subprocess.run([NODE, "--input-type=module", "-e", script, *(f.as_uri() for f in files)],
                         capture_output=True, text=True, check=True)
    return {f.stem: set(keys) for f, keys in zip(files, json.loads(out.stdout), strict=True)}


@pytest.fixture(scope="module")
def catalogues() -> dict[str, dict[str, set[str]]]:
    return {lang: load(lang) for lang in LANGS}


def test_both_languages_have_the_same_files_and_keys(catalogues):
    zh, en = catalogues["zh-CN"], catalogues["en"]
    assert sum(len(keys) for keys in zh.values()) > 900
    assert sorted(zh) == sorted(en)
    assert {f: sorted(zh[f] ^ en[f]) for f in zh if zh[f] != en[f]} == {}
    assert not list(I18N.glob("*.js")), "the catalogues are per file now: frontend/i18n/<lang>/<prefix>.js"


def test_each_key_is_in_the_file_its_prefix_names(catalogues):
    misplaced = {(f, k) for f, keys in catalogues["zh-CN"].items() for k in keys
                 if f != ("common" if k.split(".")[0] in SHELL else k.split(".")[0])}
    assert sorted(misplaced) == []


def modules_of(page: Path) -> list[str]:
    """The page's scripts and every module they import, statically or lazily (import("./x.js"))."""
    todo = re.findall(r'<script[^>]*\bsrc="/js/([\w.-]+)"', page.read_text(encoding="utf-8"))
    seen: list[str] = []
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.append(name)
            todo += re.findall(r'(?:from|import)\s*\(?\s*"\./([\w.-]+)"', (FRONTEND / "js" / name).read_text("utf-8"))
    return seen


def used_keys(page: Path, every_key: set[str]) -> dict[str, str]:
    """{key: where it is used} for the page: data-i18n attributes, string literals that are keys or are
    given to t()/tOr(), and for a template that starts like a key (`scan.action.${a}`) every key it can
    become."""
    html = page.read_text(encoding="utf-8")
    used = {k: page.name for k in re.findall(r'data-i18n(?:-placeholder|-aria-label)?="([^"]+)"', html)}
    for name in modules_of(page):
        js = (FRONTEND / "js" / name).read_text(encoding="utf-8")
        literals = set(re.findall(r'"([\w.-]+)"', js)) & every_key
        literals |= set(re.findall(r'\b(?:t|tOr)\(\s*"([^"]*)"', js))  # a typo shows up here
        for call, prefix in re.findall(r'(\bt\(\s*)?`([\w.-]+\.[\w.-]*)\$\{', js):
            grown = {k for k in every_key if k.startswith(prefix)}
            # t(`x.${a}`) must become some key; tOr's template may not (the server may send new codes)
            literals |= grown or ({prefix + "…"} if call else set())
        used.update({k: f"js/{name}" for k in literals if k not in used})
    return used


def loaded_files(page: Path) -> list[str]:
    root = re.search(r"<html\b[^>]*>", page.read_text(encoding="utf-8"))
    named = re.search(r'data-messages="([^"]*)"', root.group(0)) if root else None
    return ["common", *(named.group(1).split() if named else [])]


def test_every_page_loads_the_messages_it_uses(catalogues):
    files = catalogues["zh-CN"]
    every_key = set().union(*files.values())
    missing = []
    for page in PAGES:
        loaded = loaded_files(page)
        assert set(loaded) <= set(files), f"{page.name} names a file that does not exist: {loaded}"
        have = set().union(*(files[f] for f in loaded))
        missing += [f"{page.name}: {key} (used in {where})" for key, where in used_keys(page, every_key).items()
                    if key not in have]
    assert sorted(missing) == []


def test_pages_load_no_file_they_do_not_use(catalogues):
    files = catalogues["zh-CN"]
    every_key = set().union(*files.values())
    unused = [f"{page.name}: {f}" for page in PAGES
              for f in loaded_files(page)[1:] if not files[f] & used_keys(page, every_key).keys()]
    assert unused == []
