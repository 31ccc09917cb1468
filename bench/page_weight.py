"""Page weight: what a phone downloads to show a page, measured in Chromium.

Each page is opened in a fresh browser context (an empty cache: a first visit, the worst case)
as a logged-in person at 360x740, and every response is counted once the page settled (network
idle, then a short pause for late requests): bytes on the wire (headers + body as sent),
decoded body bytes, and the number of requests, split into static files and API calls.

- /s/<code>: what any phone camera opens from a poster; for a logged-in volunteer it checks them
  in (a real scan of a published activity);
- /scan.html: the in-page scanner (the 扫码 tab), whose QR decoder (frontend/vendor/jsqr, ~250 KB)
  must not be part of the first load: `decoder_deferred` checks it is fetched only once the camera
  button is pressed (Chromium with a fake camera, BarcodeDetector removed as on iPhone and WeChat);
- /shop.html: the moral supermarket; /courier.html: the courier's reports page.
"""

from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _measure(browser, base_url: str, path: str, token: str, csrf: str) -> dict:
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    context.add_cookies([{"name": "linli_session", "value": token, "url": base_url},
                         {"name": "linli_csrf", "value": csrf, "url": base_url}])
    page = context.new_page()
    finished = []
    failed = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.on("requestfailed", lambda request: failed.append(request))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        response = page.goto(base_url + path, wait_until="networkidle", timeout=30_000)
        page.wait_for_timeout(300)  # requests started by late scripts
        status = response.status if response else None
        title = page.title()
        items = []
        for request in finished:
            sizes = request.sizes()
            response = request.response()
            try:
                body = len(response.body()) if response else 0
            except Exception:  # a body the browser did not keep (redirects, aborted streams)
                body = sizes["responseBodySize"]
            url = urlparse(request.url)
            items.append({"path": url.path, "type": request.resource_type,
                          "status": response.status if response else None,
                          "wire_bytes": sizes["responseHeadersSize"] + sizes["responseBodySize"],
                          "body_bytes": body, "encoding": (response.headers.get("content-encoding") if response else None)})
    finally:
        context.close()
    api = [i for i in items if i["path"].startswith("/api/")]
    static = [i for i in items if not i["path"].startswith("/api/")]
    return {
        "path": path, "status": status, "title": title, "requests": len(items),
        "wire_bytes": sum(i["wire_bytes"] for i in items), "body_bytes": sum(i["body_bytes"] for i in items),
        "static_requests": len(static), "static_wire_bytes": sum(i["wire_bytes"] for i in static),
        "api_requests": len(api), "api_wire_bytes": sum(i["wire_bytes"] for i in api),
        "compressed": any(i["encoding"] for i in items), "failed_requests": len(failed), "page_errors": errors,
        "largest": sorted(({"path": i["path"], "wire_bytes": i["wire_bytes"]} for i in items),
                          key=lambda i: -i["wire_bytes"])[:5],
        "items": items,
    }


def run(base_url: str, pages: list[str], token: str, csrf: str) -> dict:
    """Weigh each page; {path: figures}. Skipped (with the reason) when Chromium is missing."""
    from pathlib import Path
    if not Path(CHROMIUM).exists():
        return {"skipped": f"no Chromium at {CHROMIUM}"}
    from playwright.sync_api import sync_playwright
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for path in pages:
                results[path] = _measure(browser, base_url, path, token, csrf)
        finally:
            browser.close()
    return results


DECODER_PATH = "/vendor/jsqr/jsQR.js"
FAKE_CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def decoder_deferred(base_url: str, token: str, csrf: str, *, browser_type=None, video: str | None = None) -> dict:
    """Open /scan.html without BarcodeDetector and press the camera button: was the decoder fetched
    before the press (it must not be), after it (it must), and how heavy is it on the wire?

    `browser_type`: a Playwright BrowserType to launch from (tests pass theirs); otherwise a new
    Playwright is started. `video`: a .y4m/.mjpeg file for the fake camera (default: Chromium's pattern).
    """
    from pathlib import Path
    if not Path(CHROMIUM).exists():
        return {"skipped": f"no Chromium at {CHROMIUM}"}
    args = CHROMIUM_ARGS + FAKE_CAMERA_ARGS + ([f"--use-file-for-fake-video-capture={video}"] if video else [])

    def measure(kind) -> dict:
        browser = kind.launch(executable_path=CHROMIUM, args=args)
        try:
            context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1)
            context.add_cookies([{"name": "linli_session", "value": token, "url": base_url},
                                 {"name": "linli_csrf", "value": csrf, "url": base_url}])
            context.add_init_script("delete window.BarcodeDetector;")
            page = context.new_page()
            fetched: list = []
            page.on("requestfinished", lambda r: fetched.append(r) if urlparse(r.url).path == DECODER_PATH else None)
            page.goto(base_url + "/scan.html", wait_until="networkidle", timeout=30_000)
            page.wait_for_timeout(300)
            before = len(fetched)
            page.click("#camera-start")
            page.wait_for_function("() => !document.getElementById('camera-box').hidden", timeout=15_000)
            page.wait_for_load_state("networkidle")
            sizes = fetched[-1].sizes() if fetched else None
            return {"before_click": before > 0, "after_click": len(fetched) > before,
                    "decoder_wire_bytes": sizes["responseHeadersSize"] + sizes["responseBodySize"] if sizes else 0}
        finally:
            browser.close()

    if browser_type is not None:
        return measure(browser_type)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        return measure(p.chromium)
