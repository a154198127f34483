"""The photos of the bad-input catalogue: files that are not an acceptable photo (made here, small, except the one
past the size limit, which is made when it is sent)."""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.drills.bad_common import Bad


def photo(what: str, says: str, data, kind: str = "image/jpeg") -> Bad:
    """POST /api/media by a handler; data: bytes or a function that makes them (big files are made when sent)."""
    return Bad("photos", what, "hws", "POST", "/api/media", says, {"content": data, "headers": {"content-type": kind}})


def picture(fmt: str, size=(64, 48), **save) -> bytes:
    """A small real image in `fmt`, with some texture so that JPEG has bytes to cut."""
    image = Image.effect_noise(size, 40).convert("RGB")
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def animated_png() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG header that promises width × height pixels, with a few bytes of data: decoding it would take GBs."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + \
        chunk(b"IEND", b"")


def jpeg_giant() -> bytes:
    """A small JPEG whose frame header claims 60,000 × 60,000 pixels."""
    data = bytearray(picture("JPEG"))
    at = data.index(b"\xff\xc0") + 5  # SOF0: marker, length (2), precision (1), then height and width
    data[at:at + 4] = struct.pack(">HH", 60_000, 60_000)
    return bytes(data)


def too_large() -> bytes:
    """A valid JPEG padded past the 10 MB limit (the padding after its end marker)."""
    return picture("JPEG") + b"\0" * (10 * 1024 * 1024)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64

PHOTOS = [
    photo("an empty body", "empty", b""),
    photo("text, not an image", "not an image", b"this is a photo, honestly"),
    photo("an HTML page labelled image/jpeg", "not an image", b"<html><script>alert(1)</script></html>"),
    photo("SVG with a script", "not an image", SVG, "image/svg+xml"),
    photo("SVG labelled image/png", "not an image", SVG, "image/png"),
    photo("a truncated JPEG (the upload cut off)", "damaged", lambda: picture("JPEG")[:400]),
    photo("a truncated PNG", "not an image", lambda: picture("PNG")[:30]),
    photo("a JPEG cut after its header", "damaged", lambda: picture("JPEG")[:200]),
    photo("a decompression bomb (PNG of 1.6 gigapixels)", "pixels", png_bomb, "image/png"),
    photo("a JPEG whose header claims 60000 × 60000 pixels", "pixels", jpeg_giant),
    photo("a GIF", "GIF", lambda: picture("GIF"), "image/gif"),
    photo("a BMP", "BMP", lambda: picture("BMP"), "image/bmp"),
    photo("a TIFF", "TIFF", lambda: picture("TIFF"), "image/tiff"),
    photo("an animated PNG", "animated", animated_png, "image/png"),
    photo("a HEIC photo (iPhone default)", "HEIC", HEIC, "image/heic"),
    photo("larger than 10 MB", "larger than the limit", too_large),
    photo("a multipart form instead of the photo", "multipart", b"--x\r\n\r\n--x--\r\n",
          "multipart/form-data; boundary=x"),
]

