"""The docs name files that exist: every repository path cited in docs/*.md (the closing notes in
docs/history/ excepted: they describe the code as it was) and in the README is checked."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("api", "domain", "tests", "frontend", "migrations", "docs", "bench")
# A path: a top-level folder of the repository, then path characters; placeholders (<capability>,
# *, {id}) are patterns, not paths, and are skipped.
PATH = re.compile(r"(?<![\w/.-])((?:" + "|".join(TOPS) + r")/[\w./-]*[\w/])")


def cited_paths(text: str) -> set[str]:
    return {m for m in PATH.findall(text) if not re.search(r"[<>*{}]", m)}


def exists(path: str) -> bool:
    """A file or folder; also the shorthands the docs use: a module without .py (`domain/ledger/areas`),
    a module's attribute (`domain/core/sheets.read_table`), a migration by number (`migrations/022`)."""
    path = path.rstrip("/")
    candidates = [path, path + ".py", path + ".md", path.split(".", 1)[0], path.split(".", 1)[0] + ".py"]
    if any((ROOT / c).exists() for c in candidates):
        return True
    return bool(re.fullmatch(r"migrations/\d{3}", path)) and any((ROOT / "migrations").glob(path[11:] + "_*.sql"))


def test_every_path_the_docs_cite_exists():
    missing = {}
    for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        text = doc.read_text(encoding="utf-8")
        gone = sorted(p for p in cited_paths(text) if not exists(p))
        if gone:
            missing[doc.name] = gone
    assert missing == {}


def test_decisions_is_an_index_first():
    text = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
    assert text.splitlines()[2].startswith("Index:")
    assert len(cited_paths(text.split("## ", 1)[0])) >= 10


def test_closing_notes_live_in_history():
    assert not list((ROOT / "docs").glob("notes-*.md"))


def test_code_comments_say_why_not_which_issue_brought_them():
    """A reader of the code has the code, not the issue tracker: a comment that names an issue or one of
    its findings ("issue 30", "finding 1c") tells them nothing. Migrations keep their historical text;
    bench/ names the issues whose targets it measures."""
    cites = re.compile(r"\b(?:issues? \d+|findings? \d+[a-z]?)\b", re.I)
    found = [f"{path.relative_to(ROOT)}:{n}" for top in ("api", "domain", "frontend")
             for path in (ROOT / top).rglob("*") if path.suffix in (".py", ".js", ".html", ".css", ".sql")
             and "vendor" not in path.parts
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if cites.search(line)]
    assert found == []
