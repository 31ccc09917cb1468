"""Printable member cards: A4 sheets of 10 cards (2 x 5, each 85 x 54 mm, the size of a bank card)
with the person's name, community and member QR, as one multi-page PDF. Pure: no database.

For residents without a smartphone: a manager prints the cards, cuts them along the grey lines,
and the card is scanned at a station or the supermarket counter like the card page on a phone.
Drawn with Pillow at 200 dpi (JPEG pages inside the PDF: the QR modules are ~9 px, far above what
a scanner needs).
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from domain.core import codes, qr

DPI = 200
PAGE_W, PAGE_H = 210, 297
CARD_W, CARD_H = 85, 54
COLS, ROWS = 2, 5
PER_PAGE = COLS * ROWS
GAP_X = (PAGE_W - COLS * CARD_W) / (COLS + 1)
GAP_Y = (PAGE_H - ROWS * CARD_H) / (ROWS + 1)
QR_MM = 40  # leaves room under the QR for the typed code
ACCENT = "#c8102e"


@dataclass(frozen=True)
class Card:
    name: str
    community: str
    url: str            # <public url>/s/<member code>
    detail: str = ""    # e.g. the household


def _px(mm: float) -> int:
    return round(mm * DPI / 25.4)


def _text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, size_mm: float, *, bold: bool = False,
          fill: str = qr.INK, width_mm: float, lines: int = 1) -> float:
    """Draw wrapped text with its top at y (mm); return the y below it."""
    font = qr._font(_px(size_mm), bold)
    fits = lambda s: font.getlength(s) <= _px(width_mm)  # noqa: E731
    for line in qr._wrap(text, fits, lines):
        y += size_mm * qr.LEADING
        draw.text((_px(x), _px(y - size_mm * 0.3)), line, font=font, fill=fill, anchor="ls")
    return y


def _draw_card(page: Image.Image, draw: ImageDraw.ImageDraw, card: Card, left: float, top: float) -> None:
    draw.rectangle((_px(left), _px(top), _px(left + CARD_W), _px(top + CARD_H)), outline="#9a9a9a", width=2)
    draw.rectangle((_px(left), _px(top), _px(left + CARD_W), _px(top + 3)), fill=ACCENT)
    matrix = qr.qr_matrix(card.url)
    box = _px(QR_MM) // matrix.size
    image = qr._qr_image(matrix, box)
    qr_top = top + 4
    page.paste(image, (_px(left + 2), _px(qr_top)))
    # The code a station types when the QR cannot be read: upper case in groups, where l
    # and 1, O and 0 are told apart; look-alikes typed for each other are accepted anyway.
    code = codes.display(card.url.rsplit("/s/", 1)[-1])
    _text(draw, left + 2, qr_top + QR_MM + 0.3, code, 2.6, bold=True, width_mm=QR_MM + 2)
    x, width = left + QR_MM + 4, CARD_W - QR_MM - 7
    y = _text(draw, x, top + 5, card.community, 3.4, fill=qr.MUTED, width_mm=width, lines=2)
    y = _text(draw, x, y + 1.5, card.name, 6.5, bold=True, width_mm=width, lines=2)
    if card.detail:
        y = _text(draw, x, y + 1, card.detail, 3.2, fill=qr.MUTED, width_mm=width, lines=2)
    _text(draw, x, top + CARD_H - 10, "邻里会员卡", 3.4, bold=True, fill=ACCENT, width_mm=width)
    _text(draw, x, top + CARD_H - 6.2, "Linli member card", 2.8, fill=qr.MUTED, width_mm=width)


def pages(cards: list[Card]) -> list[Image.Image]:
    out = []
    for start in range(0, len(cards), PER_PAGE):
        page = Image.new("RGB", (_px(PAGE_W), _px(PAGE_H)), "white")
        draw = ImageDraw.Draw(page)
        for i, card in enumerate(cards[start:start + PER_PAGE]):
            row, col = divmod(i, COLS)
            _draw_card(page, draw, card, GAP_X + col * (CARD_W + GAP_X), GAP_Y + row * (CARD_H + GAP_Y))
        out.append(page)
    return out


def cards_pdf(cards: list[Card]) -> bytes:
    """One PDF, A4 pages of 10 cards each, print at 100 % ("actual size")."""
    if not cards:
        raise ValueError("no cards")
    images = pages(cards)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=DPI, quality=92,
                   title="邻里会员卡 Linli member cards")
    return out.getvalue()
