"""The site's icon at /favicon.ico (browsers ask for it on every page): a grid of blocks, one of them marked,
drawn with Pillow when first asked for, so no binary file is kept and no page logs a 404."""
from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageDraw
from starlette.requests import Request
from starlette.responses import Response

BLUE, LIGHT, MARK = (24, 96, 170, 255), (255, 255, 255, 255), (230, 80, 40, 255)
SIZES = [(16, 16), (32, 32), (48, 48)]


@cache
def icon() -> bytes:
    """A 48 px drawing (3 × 3 blocks on blue, the centre one marked), saved as an .ico of 16, 32 and 48 px."""
    image = Image.new("RGBA", (48, 48), BLUE)
    draw = ImageDraw.Draw(image)
    for row in range(3):
        for col in range(3):
            x, y = 5 + col * 13, 5 + row * 13
            draw.rectangle((x, y, x + 10, y + 10), fill=MARK if (row, col) == (1, 1) else LIGHT)
    out = io.BytesIO()
    image.save(out, format="ICO", sizes=SIZES)
    return out.getvalue()


async def favicon(request: Request) -> Response:
    """GET /favicon.ico: a static file like those under /static (so not an API operation nor a page)."""
    return Response(icon(), media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})
