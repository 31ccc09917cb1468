"""Pages are light for phone networks: compressed, and only the messages a page shows in the active
language (tests/app/test_catalogues.py checks the catalogues themselves)."""


async def test_static_files_are_gzipped_when_asked(client):
    r = await client.get("/i18n/zh-CN/common.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert "javascript" in r.headers["content-type"]
    r = await client.get("/api/me", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
