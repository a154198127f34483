"""Photos attached to case actions: check and clean uploaded images, and keep them in a store.

Pure domain code: no web framework, no database. `clean_photo` decodes the bytes with Pillow (the file
extension and the client's content type are never trusted), turns the picture upright, and re-encodes it
with no metadata at all, so GPS positions and device details in EXIF/XMP never leave the officer's phone.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core.errors import InvalidInput, NotFound

ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
SEND = "send a JPEG, PNG or WebP photo"

# MPO is how Pillow names a JPEG that carries extra pictures (depth maps, previews) after the main one;
# many phone cameras write it, so it counts as JPEG and only the main picture is kept.
_ALIASES = {"MPO": "JPEG"}
# Modes the PNG encoder writes as they are; anything else becomes RGBA so no transparency is lost.
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}
# HEIF/HEIC (the iPhone default) is an ISO box file; Pillow cannot read it, but people deserve a specific hint.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_SRGB = ImageCms.createProfile("sRGB")
_KEY = re.compile(r"([0-9a-f]{2})/\1[0-9a-f]{62}\.(?:jpg|png|webp)")


class InvalidPhoto(InvalidInput):
    """A file that is not an acceptable photo."""


class MediaNotFound(NotFound):
    """No stored photo under that key."""


@dataclass(frozen=True)
class CleanPhoto:
    """A checked photo, re-encoded without metadata, ready to store."""

    content: bytes  # the re-encoded image; no EXIF (so no GPS), XMP, comments or colour profile
    content_type: str  # image/jpeg, image/png or image/webp: always the format that came in
    width: int  # after turning upright
    height: int
    sha256: str  # hex digest of `content`


def clean_photo(data: bytes, *, max_bytes: int = 10 * 1024 * 1024, max_pixels: int = 40_000_000) -> CleanPhoto:
    """Check that `data` is a JPEG, PNG or WebP photo and return it upright, re-encoded, metadata-free."""
    if not data:
        raise InvalidPhoto(f"the file is empty; {SEND}")
    if len(data) > max_bytes:
        raise InvalidPhoto(f"the file is {_size(len(data))}, more than the limit of {_size(max_bytes)}; "
                           f"send a smaller photo")
    image, fmt = _decode(bytes(data), max_pixels)
    with image:
        upright = _to_srgb(_upright(image))
        content = _encode(upright, fmt)
        width, height = upright.size
    return CleanPhoto(content=content, content_type=ALLOWED[fmt], width=width, height=height,
                      sha256=hashlib.sha256(content).hexdigest())


def _decode(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Open, check and fully decode `data`; return the loaded image and its output format."""
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice that; a warning here is still a bomb to refuse.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                _check_kind(probe, max_pixels)
                found = probe.format
                probe.verify()
            # verify() leaves the image unusable, so decode a fresh one with the opener that just read it
            # (Pillow opens MPO through its JPEG opener).
            image = Image.open(io.BytesIO(data), formats=[_ALIASES.get(found, found)])
            image.load()
        except InvalidPhoto:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own limit (Image.MAX_IMAGE_PIXELS) struck first, so name whichever limit is lower.
            limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
            raise InvalidPhoto(f"the photo has too many pixels, more than the limit of {_megapixels(limit)}; "
                               f"send a smaller photo") from None
        except UnidentifiedImageError:
            raise InvalidPhoto(_unreadable(data)) from None
        except Exception:  # noqa: BLE001 - Pillow plugins raise many kinds of errors on damaged input
            raise InvalidPhoto(f"the image is damaged or incomplete (perhaps the upload was cut off); "
                               f"{SEND} again") from None
    return image, _ALIASES.get(found, found)


def _check_kind(image: Image.Image, max_pixels: int) -> None:
    """Refuse formats we do not serve, images too large to decode safely, and animations."""
    found = _ALIASES.get(image.format, image.format)
    if found not in ALLOWED:
        raise InvalidPhoto(f"the file is a {image.format} image, which is not accepted; {SEND}")
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidPhoto(f"the photo is {width} × {height} pixels ({_megapixels(width * height)}), more than "
                           f"the limit of {_megapixels(max_pixels)}; send a smaller photo")
    # MPO "frames" are extra pictures inside one JPEG, not an animation.
    if image.format != "MPO" and getattr(image, "n_frames", 1) > 1:
        raise InvalidPhoto(f"the file is an animated image; {SEND} (a single picture)")


def _unreadable(data: bytes) -> str:
    """The message for bytes that are no image Pillow knows."""
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return (f"the file is a HEIC/HEIF photo, which is not accepted; {SEND} "
                f"(on an iPhone: Settings › Camera › Formats › Most Compatible)")
    return f"the file is not an image; {SEND}"


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, since the tag that records it is about to be thrown away."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block should not cost the officer the whole photo
        return image.copy()


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert pixels to sRGB when an embedded colour profile says otherwise, so dropping it keeps the colours."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A profile that does not fit the pixels is wrong anyway; the plain pixels are the best guess.
        return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    """Re-encode `image` as `fmt` with no metadata: only pixels (and PNG transparency) survive."""
    image = _encodable(image, fmt)
    # Encoders read comments, ICC profiles and the like from .info, so start from a copy that has none.
    bare = image.copy()
    bare.info = {}
    params: dict = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG" and "transparency" in image.info:
        params["transparency"] = image.info["transparency"]
    buffer = io.BytesIO()
    bare.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _encodable(image: Image.Image, fmt: str) -> Image.Image:
    """Convert `image` to a mode the `fmt` encoder writes faithfully."""
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        return image.convert("RGB")
    if fmt == "PNG" and image.mode not in _PNG_MODES:
        return image.convert("RGBA")
    if fmt == "WEBP" and image.mode not in ("RGB", "RGBA"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    return image


def _size(n: int) -> str:
    """A byte count for people."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _megapixels(n: int) -> str:
    """A pixel count for people."""
    return f"{n / 1_000_000:.1f}".removesuffix(".0") + " megapixels"


def storage_key(photo: CleanPhoto) -> str:
    """The content-addressed key of `photo`: `ab/abcdef….ext`, the same for the same bytes."""
    return f"{photo.sha256[:2]}/{photo.sha256}.{EXTENSIONS[photo.content_type]}"


@runtime_checkable
class MediaStore(Protocol):
    """Where cleaned photos are kept; keys come from `storage_key`."""

    def put(self, photo: CleanPhoto) -> str:
        """Store `photo` (storing it again is harmless) and return its key."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; MediaNotFound if there are none or the key is malformed."""
        ...

    def delete(self, key: str) -> None:
        """Remove the photo under `key`; a well-formed key with nothing stored is not an error."""
        ...


class LocalMediaStore:
    """A MediaStore on the local disk: files under `root`, written atomically."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def put(self, photo: CleanPhoto) -> str:
        """Store `photo` and return its key; a second put of the same photo writes nothing."""
        if hashlib.sha256(photo.content).hexdigest() != photo.sha256:
            # The key promises these bytes; storing others under it would corrupt every later reader.
            raise ValueError("CleanPhoto.sha256 does not match its content")
        key = storage_key(photo)
        path = self._path(key)
        if path.is_file():
            return key  # same key means same bytes, so the stored copy is already right
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, photo.content)
        return key

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`."""
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise MediaNotFound(f"no stored photo {key!r}") from None

    def delete(self, key: str) -> None:
        """Remove the photo under `key`, if it is there."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def _path(self, key: str) -> Path:
        """The file for `key`; MediaNotFound for anything but a key this store could have made."""
        # Only exact keys pass, so '..', absolute paths, backslashes and odd names never reach the disk.
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise MediaNotFound(f"no stored photo {key!r}")
        return self.root / key


def _write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a temp file and a rename, so readers never see half a file."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes must be on disk before the rename makes them visible
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename in `folder`; best effort, since some systems cannot open folders."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
