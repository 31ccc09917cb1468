"""QR and poster rendering: every output must decode back to the exact URL (pure, no database)."""

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from domain.core import qr

URL = "https://linli.example.org/s/ABCDEFGHIJKLMNOPQRSTUV"  # a 22-character code, the longest we issue
HOSTILE_TITLE = '<script>alert(1)</script> & "x"'
POSTER = dict(title="“邻里守望”垃圾分类宣传志愿服务活动", when="2025年6月14日（周六）09:00–11:30",
              place="幸福里社区党群服务中心一楼多功能厅", url=URL)
ARTIFACTS = Path(__file__).parents[1] / "artifacts"


def decode_one(image: Image.Image) -> zxingcpp.Result:
    results = [r for r in zxingcpp.read_barcodes(image.convert("L")) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(results) == 1, f"expected one QR code, found {len(results)}"
    return results[0]


def assert_decodes_to(image: Image.Image, url: str) -> None:
    result = decode_one(image)
    assert result.valid
    assert result.text == url
    assert int(result.extra["Version"]) <= qr.MAX_VERSION
    assert result.ec_level == "M"


def png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data))


def test_matrix_uses_the_smallest_version_with_a_quiet_zone():
    short = qr.qr_matrix("https://x.cn/s/ABCD")
    ours = qr.qr_matrix(URL)
    assert short.version < ours.version <= qr.MAX_VERSION
    for m in (short, ours):
        assert m.size == 17 + 4 * m.version + 2 * qr.QUIET_ZONE
        q = qr.QUIET_ZONE
        assert not any(any(row) for row in m.modules[:q] + m.modules[-q:])
        assert not any(any(row[:q]) or any(row[-q:]) for row in m.modules)


@pytest.mark.parametrize("url", [URL + "x" * 50, "https://linli.example.org/s/" + "A" * 3000])
def test_url_too_long_for_version_4_is_refused(url):
    with pytest.raises(ValueError):
        qr.qr_matrix(url)
    with pytest.raises(ValueError):
        qr.qr_png(url)
    with pytest.raises(ValueError):
        qr.poster_svg(**{**POSTER, "url": url})


def test_qr_png_decodes_to_the_exact_url():
    image = png(qr.qr_png(URL, box_size=6))
    assert image.size == (qr.qr_matrix(URL).size * 6,) * 2
    assert_decodes_to(image, URL)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_poster_png_is_a4_at_150_dpi_and_its_qr_decodes(lang):
    data = qr.poster_png(**POSTER, lang=lang)
    image = png(data)
    assert image.size == (1240, 1754)
    assert round(image.info["dpi"][0]) == 150
    assert_decodes_to(image, URL)
    if lang == "zh":
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "poster.png").write_bytes(data)


def test_poster_png_without_cjk_fonts_still_has_a_correct_qr(monkeypatch):
    monkeypatch.setattr(qr, "_FONT_GLOBS", ())
    qr._font_path.cache_clear()
    qr._font.cache_clear()
    try:
        image = png(qr.poster_png(**{**POSTER, "title": "长标题 " * 30}))
    finally:
        qr._font_path.cache_clear()
        qr._font.cache_clear()
    assert_decodes_to(image, URL)


def test_svgs_are_inline_ready_and_escape_user_text():
    svg = qr.qr_svg(URL)
    assert svg.startswith("<svg ") and "<?xml" not in svg
    assert qr.qr_svg(URL, xml_declaration=True).startswith("<?xml")
    assert 'width="300"' in qr.qr_svg(URL, size_px=300)

    poster = qr.poster_svg(**{**POSTER, "title": HOSTILE_TITLE, "place": "A & B <b>"})
    assert "<script" not in poster and "<b>" not in poster
    assert "&lt;script&gt;alert(1)&lt;/scr" in poster and "&amp; &quot;x&quot;" in poster  # the title wraps
    assert "A &amp; B &lt;b&gt;" in poster
    assert 'viewBox="0 0 210 297"' in poster and "Noto Sans CJK SC" in poster


def test_long_titles_wrap_and_are_cut_with_an_ellipsis():
    fits = lambda s: qr._estimate_mm(s, 10, False) <= 100  # noqa: E731  ten CJK characters a line
    assert qr._wrap("一二三四五六七八九十甲乙", fits, 3) == ["一二三四五六七八九十", "甲乙"]
    assert qr._wrap("alpha beta gamma delta", fits, 3) == ["alpha beta gamma", "delta"]
    lines = qr._wrap("字" * 100, fits, 3)
    assert len(lines) == 3 and lines[-1].endswith("…") and all(fits(line) for line in lines)


@pytest.fixture
def browser_page(browser):
    """A page of the session's one Chromium (conftest): two Playwright drivers in one process clash."""
    context = browser.new_context(viewport={"width": 900, "height": 1200})
    yield context.new_page()
    context.close()


def screenshot(page, html: str) -> Image.Image:
    page.set_content(f"<!doctype html><body style='margin:0;background:#fff'>{html}</body>")
    return Image.open(io.BytesIO(page.screenshot(full_page=True)))


@pytest.mark.browser
def test_qr_svg_rendered_by_chromium_decodes(browser_page):
    assert_decodes_to(screenshot(browser_page, qr.qr_svg(URL, size_px=330)), URL)
    # without a size it scales to its container
    assert_decodes_to(screenshot(browser_page, f"<div style='width:250px'>{qr.qr_svg(URL)}</div>"), URL)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_poster_svg_rendered_by_chromium_decodes_and_shows_the_title(browser_page, lang):
    image = screenshot(browser_page, qr.poster_svg(**{**POSTER, "title": HOSTILE_TITLE}, lang=lang))
    assert image.width >= 790  # 210mm at 96 dpi
    assert_decodes_to(image, URL)
    # the escaped title is text on the page, not a script element
    assert browser_page.locator("script").count() == 0
    shown = "".join(browser_page.locator("svg text").all_text_contents()).replace(" ", "")
    assert HOSTILE_TITLE.replace(" ", "") in shown
