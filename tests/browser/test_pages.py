"""Pages are light for phone networks: compressed, one catalogue per language, same keys in both."""

import re
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def catalogue_keys(name: str) -> set[str]:
    return set(re.findall(r'^\s*"([\w.-]+)":', (FRONTEND / "i18n" / name).read_text(encoding="utf-8"), re.M))


def test_both_catalogues_translate_the_same_keys():
    zh, en = catalogue_keys("zh-CN.js"), catalogue_keys("en.js")
    assert len(zh) > 100
    assert zh - en == set() and en - zh == set()


async def test_static_files_are_gzipped_when_asked(client):
    r = await client.get("/i18n/zh-CN.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert "javascript" in r.headers["content-type"]
    r = await client.get("/api/me", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
