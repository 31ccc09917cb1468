"""The service worker (issue 33, finding 9): served at /sw.js with the app shell's list and a version
that changes whenever any shell file does, so a release replaces the cached scripts. The browser side
(pages opening offline, logout forgetting the personal cache) is in tests/browser/test_scanning_browser.py."""

import re
import shutil

from api.app import FRONTEND, service_worker_text, shell_files


def version_of(text: str) -> str:
    return re.search(r'const VERSION = "([0-9a-f]{16})";', text).group(1)


async def test_the_worker_lists_the_shell_and_is_never_cached_stale(client):
    r = await client.get("/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    assert "__SHELL__" not in r.text and version_of(r.text)
    for page in ("/scan.html", "/station.html", "/card.html", "/shop.html", "/js/scan-queue.js", "/js/ui.js",
                 "/i18n/zh-CN/common.js", "/css/app.css"):
        assert f'"{page}"' in r.text, page
    assert all((FRONTEND / name.lstrip("/")).is_file() for name in shell_files())


def test_the_page_refetches_only_what_the_worker_keeps():
    """api.js fetches a first visit's answers once more through the worker: only those the worker keeps
    for offline pages, never a read that is itself an audited act (a manager viewing a full phone)."""
    def patterns(path: str, name: str) -> list[str]:
        text = (FRONTEND / path).read_text(encoding="utf-8")
        block = re.search(name + r" = \[(.*?)\];", text, re.S).group(1)
        return re.findall(r"/\^(.*?)\$/", block)
    kept = patterns("sw.js", "PERSONAL")
    assert kept and patterns("js/api.js", "KEPT_OFFLINE") == kept
    assert not any("phone" in p or "members" in p for p in kept)


def test_a_release_that_changes_a_script_is_a_new_version(tmp_path):
    root = tmp_path / "frontend"
    shutil.copytree(FRONTEND, root)
    before = service_worker_text(root)
    assert version_of(service_worker_text(root)) == version_of(before)  # the same files: the same worker
    script = root / "js" / "scan.js"
    script.write_text(script.read_text(encoding="utf-8") + "\n// the next release\n", encoding="utf-8")
    after = service_worker_text(root)
    assert version_of(after) != version_of(before)
    # The new worker's activation deletes every linli- cache but its own version's.
    assert 'name.startsWith("linli-") && !keep.has(name)' in after
