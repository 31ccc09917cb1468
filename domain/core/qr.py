"""QR codes and printable A4 check-in posters, as SVG and PNG. Pure: no database, no HTTP.

Every code we print is a short URL (`<base>/s/<code>`), so we cap the QR at version 4 (33x33
modules, error correction M): a low-density symbol prints small and scans from across a room.
The poster is laid out once, in millimetres, and drawn twice (SVG text for browsers and print,
Pillow for PNG) so both outputs match.
"""

import glob
import html
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.exceptions import DataOverflowError

MAX_VERSION = 4
QUIET_ZONE = 4  # modules of white around the symbol, as the QR standard asks

PAGE_W, PAGE_H = 210, 297  # A4, mm
DPI = 150
PX_PER_MM = DPI / 25.4
TEXT_W = 176  # mm of line width for wrapped text
QR_MM, QR_TOP = 130, 100  # the QR square, quiet zone included
ACCENT_H = 8
INK, MUTED, ACCENT = "#111111", "#555555", "#c8102e"
FONT_FAMILY = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
LEADING = 1.35
BOLD_ATTR = ' font-weight="700"'
INSTRUCTIONS = {
    "zh": "用手机相机扫码签到，活动结束时再扫一次签退",
    "en": "Scan with your phone camera to check in; scan again at the end to check out.",
}
_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/**/NotoSansCJK*-{weight}.tt[co]",
    "/usr/share/fonts/**/NotoSansSC-{weight}.[ot]tf",
    "/usr/local/share/fonts/**/NotoSansCJK*-{weight}.tt[co]",
)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class QrMatrix:
    version: int
    modules: tuple[tuple[bool, ...], ...]  # True is dark; rows include the quiet zone

    @property
    def size(self) -> int:
        return len(self.modules)


def qr_matrix(url: str) -> QrMatrix:
    """Encode `url` at the smallest version that fits; ValueError beyond version 4."""
    qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(url)
    try:
        qr.make(fit=True)
    except DataOverflowError as exc:
        raise ValueError("URL does not fit in any QR code") from exc
    if qr.version > MAX_VERSION:
        raise ValueError(f"URL needs QR version {qr.version}; at most {MAX_VERSION} prints and scans well")
    return QrMatrix(qr.version, tuple(tuple(bool(m) for m in row) for row in qr.get_matrix()))


def _qr_path(matrix: QrMatrix) -> str:
    """SVG path data, one rectangle per horizontal run of dark modules (far smaller than one per module)."""
    parts = []
    for y, row in enumerate(matrix.modules):
        x = 0
        for dark, run in groupby(row):
            n = len(list(run))
            if dark:
                parts.append(f"M{x} {y}h{n}v1h-{n}z")
            x += n
    return "".join(parts)


def _qr_group(matrix: QrMatrix) -> str:
    n = matrix.size
    return f'<rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d="{_qr_path(matrix)}"/>'


def qr_svg(url: str, *, size_px: int | None = None, xml_declaration: bool = False) -> str:
    """A standalone, scalable SVG of the QR. Without `size_px` it fills its container's width;
    leave `xml_declaration` off to embed it inline in HTML."""
    matrix = qr_matrix(url)
    n = matrix.size
    size = f' width="{size_px}" height="{size_px}"' if size_px else ""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if xml_declaration else ""
    return (f'{head}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{size}'
            f' shape-rendering="crispEdges" role="img" aria-label="{_xml(url)}">{_qr_group(matrix)}</svg>')


def _qr_image(matrix: QrMatrix, box_size: int) -> Image.Image:
    img = Image.new("1", (matrix.size, matrix.size))
    img.putdata([0 if dark else 1 for row in matrix.modules for dark in row])
    return img.resize((matrix.size * box_size,) * 2, Image.Resampling.NEAREST)


def _png_bytes(img: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True, **options)
    return buf.getvalue()


def qr_png(url: str, *, box_size: int = 10) -> bytes:
    """PNG bytes of the QR, `box_size` pixels per module."""
    return _png_bytes(_qr_image(qr_matrix(url), box_size))


@dataclass(frozen=True)
class _Text:
    y: float  # baseline, mm; every line is centred horizontally
    size: float  # mm
    text: str
    bold: bool
    color: str


Measure = Callable[[str, float, bool], float]  # (text, size mm, bold) -> width mm


def _wrap(text: str, fits: Callable[[str], bool], max_lines: int) -> list[str]:
    """Greedy wrap: break at spaces between Latin words, anywhere between CJK characters;
    cut with an ellipsis past `max_lines`."""
    lines, line = [], ""
    for ch in " ".join(text.split()):
        if not line or fits(line + ch):
            line += ch
            continue
        head, _, tail = line.rpartition(" ")
        if ch == " ":
            lines.append(line)
            line = ""
        elif head:
            lines.append(head)
            line = tail + ch
        else:
            lines.append(line)
            line = ch
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and not fits(last + "…"):
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last.rstrip() + "…"]
    return lines


def _layout(title: str, when: str, place: str, url: str, lang: str, matrix: QrMatrix,
            measure: Measure, instructions: dict[str, str] | None = None) -> list[_Text]:
    """Text lines of the poster: a header centred above the QR, the URL and instructions below it."""
    en = lang == "en"
    label_when, label_place = ("Time: ", "Place: ") if en else ("时间：", "地点：")
    said = instructions or INSTRUCTIONS
    main, aside = (said["en"], said["zh"]) if en else (said["zh"], said["en"])

    def para(text: str, size: float, max_lines: int, *, bold: bool = False, color: str = INK, gap: float = 0):
        lines = _wrap(text, lambda s: measure(s, size, bold) <= TEXT_W, max_lines)
        return lines, size, bold, color, gap

    def stack(paragraphs: list, top: float, bottom: float) -> list[_Text]:
        height = sum(len(lines) * size * LEADING + gap for lines, size, _, _, gap in paragraphs)
        y = top + max(0.0, (bottom - top - height) / 2)
        out = []
        for lines, size, bold, color, gap in paragraphs:
            y += gap
            for line in lines:
                y += size * LEADING
                out.append(_Text(y - size * 0.3, size, line, bold, color))  # baseline ~0.3em above line bottom
        return out

    header = [para(title, 13, 3, bold=True), para(label_when + when, 7, 1, gap=5), para(label_place + place, 7, 2)]
    footer = [para(url, 4.5, 1, color=MUTED), para(main, 6 if en else 7, 2, bold=True, gap=5),
              para(aside, 5 if en else 4.2, 2, color=MUTED, gap=1.5)]
    qr_bottom = QR_TOP + QR_MM * (matrix.size - QUIET_ZONE + 1) / matrix.size  # a module under the last dark row
    brand = _Text(PAGE_H - 9, 4, "邻里 Linli", True, MUTED)
    # the footer sits right under the QR's last dark row: a zero-height region top-aligns it
    return stack(header, ACCENT_H + 4, QR_TOP + 8) + stack(footer, qr_bottom, qr_bottom) + [brand]


def _xml(text: str) -> str:
    return html.escape(_XML_INVALID.sub("", text), quote=True)


def _estimate_mm(text: str, size: float, bold: bool) -> float:
    """Text width without a font at hand, erring wide: CJK glyphs (and “” in CJK fonts) are 1em,
    Latin capitals ~0.6em, other Latin ~0.5em."""
    ems = sum(1.0 if unicodedata.east_asian_width(c) in "WFA" else 0.65 if c.isupper() else 0.55 for c in text)
    return ems * size * (1.05 if bold else 1.0)


def poster_svg(*, title: str, when: str, place: str, url: str, lang: str = "zh",
               instructions: dict[str, str] | None = None) -> str:
    """A printable A4 poster (millimetre viewBox) with a 12 cm QR; `lang` "en" puts English first;
    `instructions` ({"zh": ..., "en": ...}) replaces the check-in instructions under the QR."""
    matrix = qr_matrix(url)
    qr_left = (PAGE_W - QR_MM) / 2
    texts = "".join(
        f'<text x="{PAGE_W / 2:g}" y="{t.y:.2f}" font-size="{t.size:g}" fill="{t.color}"'
        f'{BOLD_ATTR if t.bold else ""}>{_xml(t.text)}</text>'
        for t in _layout(title, when, place, url, lang, matrix, _estimate_mm, instructions))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{PAGE_H}mm"'
            f' viewBox="0 0 {PAGE_W} {PAGE_H}" font-family=\'{FONT_FAMILY}\' text-anchor="middle">'
            f'<rect width="{PAGE_W}" height="{PAGE_H}" fill="#fff"/>'
            f'<rect width="{PAGE_W}" height="{ACCENT_H}" fill="{ACCENT}"/>'
            f'<g transform="translate({qr_left:g} {QR_TOP}) scale({QR_MM / matrix.size:.6f})"'
            f' shape-rendering="crispEdges">{_qr_group(matrix)}</g>{texts}</svg>')


@lru_cache(maxsize=2)
def _font_path(bold: bool) -> str | None:
    weight = "Bold" if bold else "Regular"
    for pattern in _FONT_GLOBS:
        found = sorted(glob.glob(pattern.format(weight=weight), recursive=True))
        if found:
            return found[0]
    return _font_path(False) if bold else None


@lru_cache(maxsize=32)
def _font(size_px: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path(bold)
    if path is None:  # no CJK font installed: Chinese shows as boxes, the QR is still right
        return ImageFont.load_default(size=size_px)
    for index in range(10):  # a .ttc holds JP, KR, SC, TC... faces; pick Simplified Chinese glyph shapes
        try:
            font = ImageFont.truetype(path, size_px, index=index)
        except OSError:
            break
        family = font.getname()[0]
        if family is not None and "SC" in family.split():
            return font
    return ImageFont.truetype(path, size_px)


def _px(mm: float) -> int:
    return round(mm * PX_PER_MM)


def _pillow_measure(text: str, size: float, bold: bool) -> float:
    return _font(_px(size), bold).getlength(text) / PX_PER_MM


def poster_png(*, title: str, when: str, place: str, url: str, lang: str = "zh",
               instructions: dict[str, str] | None = None) -> bytes:
    """The poster of `poster_svg` as an A4 PNG at 150 dpi (1240x1754 px)."""
    matrix = qr_matrix(url)
    img = Image.new("RGB", (_px(PAGE_W), _px(PAGE_H)), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, img.width, _px(ACCENT_H)), fill=ACCENT)
    box = _px(QR_MM) // matrix.size  # whole pixels per module keep every module the same size
    qr = _qr_image(matrix, box)
    slack = (_px(QR_MM) - qr.width) // 2
    img.paste(qr, ((img.width - qr.width) // 2, _px(QR_TOP) + slack))
    for t in _layout(title, when, place, url, lang, matrix, _pillow_measure, instructions):
        draw.text((img.width / 2, _px(t.y)), t.text, font=_font(_px(t.size), t.bold), fill=t.color, anchor="ms")
    return _png_bytes(img, dpi=(DPI, DPI))
