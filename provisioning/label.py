"""The sticker's label: the claim code as a QR code and in plain text, and the device id."""

from __future__ import annotations

import io
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

# 40 x 25 mm at 300 dpi, the label roll of the station's printer.
LABEL_SIZE_PX = (472, 295)
LABEL_DPI = 300
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
)


def claim_url(claim_code: str, site: str) -> str:
    return f"{site.rstrip('/')}/stickers?claim={claim_code}"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def render_label(device_id: str, claim_code: str, site: str) -> Image.Image:
    label = Image.new("L", LABEL_SIZE_PX, 255)
    qr = segno.make(claim_url(claim_code, site), error="m")
    qr_size = LABEL_SIZE_PX[1] - 40
    scale = max(1, qr_size // qr.symbol_size(border=1)[0])
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=1)
    buffer.seek(0)
    qr_image = Image.open(buffer).convert("L")
    label.paste(qr_image, (12, 20))
    draw = ImageDraw.Draw(label)
    x = 12 + qr_image.width + 12
    groups = claim_code.split("-")
    draw.text((x, 30), "\n".join(groups), font=_font(34), fill=0, spacing=6)
    draw.text((x, LABEL_SIZE_PX[1] - 40), device_id, font=_font(18), fill=0)
    return label


def write_label(directory: Path, device_id: str, claim_code: str, site: str) -> tuple[Path, Path]:
    """Write <device id>.png and <device id>.pdf in directory and return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    image = render_label(device_id, claim_code, site)
    png = directory / f"{device_id}.png"
    pdf = directory / f"{device_id}.pdf"
    image.save(png, dpi=(LABEL_DPI, LABEL_DPI))
    image.save(pdf, resolution=LABEL_DPI)
    return png, pdf
