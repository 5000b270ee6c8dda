"""Draws Parley's PNG icons (run: .venv/bin/python frontend/icons/make_icons.py). A speech bubble with a
check mark on the app's blue; the maskable icon keeps the mark inside the 80% safe zone; the badge is
a white silhouette on transparent, as Android's status bar wants."""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BLUE = (11, 58, 117, 255)
WHITE = (255, 255, 255, 255)


def mark(draw: ImageDraw.ImageDraw, size: int, scale: float, colour) -> None:
    """The bubble and check, drawn within `scale` of the canvas, centred."""
    s = size * scale
    ox = oy = (size - s) / 2
    draw.rounded_rectangle([ox + 0.08 * s, oy + 0.12 * s, ox + 0.92 * s, oy + 0.72 * s], radius=0.14 * s, fill=colour)
    draw.polygon([(ox + 0.28 * s, oy + 0.70 * s), (ox + 0.28 * s, oy + 0.90 * s), (ox + 0.48 * s, oy + 0.70 * s)],
                 fill=colour)
    check = [(ox + 0.30 * s, oy + 0.43 * s), (ox + 0.45 * s, oy + 0.57 * s), (ox + 0.71 * s, oy + 0.28 * s)]
    inner = BLUE if colour == WHITE else (0, 0, 0, 0)
    draw.line(check, fill=inner, width=max(2, int(0.075 * s)), joint="curve")


def icon(size: int, *, scale: float, rounded: bool) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if rounded:
        draw.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 5, fill=BLUE)
    else:
        draw.rectangle([0, 0, size, size], fill=BLUE)
    mark(draw, size, scale, WHITE)
    return image


def badge(size: int) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    mark(ImageDraw.Draw(image), size, 0.9, WHITE)
    return image


def main() -> None:
    icon(192, scale=0.8, rounded=True).save(HERE / "icon-192.png", optimize=True)
    icon(512, scale=0.8, rounded=True).save(HERE / "icon-512.png", optimize=True)
    icon(512, scale=0.62, rounded=False).save(HERE / "maskable-512.png", optimize=True)
    icon(180, scale=0.72, rounded=False).save(HERE / "apple-touch-icon.png", optimize=True)
    badge(96).save(HERE / "badge-96.png", optimize=True)


if __name__ == "__main__":
    main()
