"""Photo cleaning and the local media store; every image is made in memory with Pillow."""
from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zlib

import pytest
from PIL import Image, ImageCms, ImageFile, PngImagePlugin, features

from core.errors import InvalidInput, NotFound
from events import media
from events.media import CleanPhoto, InvalidPhoto, LocalMediaStore, MediaNotFound, MediaStore, clean_photo

GPS = {1: "N", 2: (23.0, 1.0, 12.0), 3: "E", 4: (113.0, 7.0, 30.0), 5: 0, 6: 42.0}
SECRET = "officer-secret-42"


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def two_tone(width: int = 40, height: int = 20, mode: str = "RGB") -> Image.Image:
    """Red left half, blue right half: shows which way an image was turned."""
    image = Image.new(mode, (width, height), "blue")
    image.paste(Image.new(mode, (width // 2, height), "red"), (0, 0))
    return image


def noisy(width: int = 64, height: int = 64) -> Image.Image:
    """Random pixels, so a JPEG of it has a long body worth truncating."""
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def exif_with(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(0x8825).update(GPS)
    return exif


def reopen(photo: CleanPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.content))
    image.load()
    return image


def assert_no_metadata(photo: CleanPhoto) -> None:
    image = reopen(photo)
    assert not image.getexif(), dict(image.getexif())
    assert not image.getexif().get_ifd(0x8825)
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "Comment", "Author"):
        assert key not in image.info, key
    assert b"Exif\x00\x00" not in photo.content
    assert SECRET.encode() not in photo.content
    assert b"PhoneMaker" not in photo.content


def bomb_png(width: int, height: int) -> bytes:
    """A valid, fully encoded one-colour greyscale PNG: tiny on disk, huge once decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def bomb_header(width: int, height: int) -> bytes:
    """A PNG that only claims its size; enough for anything that must refuse before decoding."""
    data = bomb_png(1, 1)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return data[:8] + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image data is decoded."""
    def load(self):
        raise AssertionError("image data was decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.fixture
def photo() -> CleanPhoto:
    return clean_photo(encode(noisy(), "JPEG"))


# --- metadata ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_exif_is_removed(fmt):
    data = encode(two_tone(), fmt, exif=exif_with())
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(0x8825)[1] == "N"  # the input really carries a position
    photo = clean_photo(data)
    assert photo.content_type == media.ALLOWED[fmt]
    assert reopen(photo).format == fmt
    assert_no_metadata(photo)


def test_jpeg_xmp_comment_and_colour_profile_are_removed():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description about="{SECRET}"/></x:xmpmeta>'.encode()
    data = encode(two_tone(), "JPEG", exif=exif_with(), xmp=xmp, comment=SECRET, icc_profile=icc)
    source = Image.open(io.BytesIO(data))
    assert {"xmp", "comment", "icc_profile"} <= set(source.info)
    photo = clean_photo(data)
    assert_no_metadata(photo)
    assert reopen(photo).getpixel((5, 10))[0] > 200  # an sRGB profile changes no colour


def test_jpeg_comment_is_removed():
    data = encode(two_tone(), "JPEG", comment=SECRET)
    assert Image.open(io.BytesIO(data)).info["comment"] == SECRET.encode()
    assert_no_metadata(clean_photo(data))


def test_colour_profile_of_a_palette_png_is_removed():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(two_tone().convert("P"), "PNG", icc_profile=icc)
    assert "icc_profile" in Image.open(io.BytesIO(data)).info
    photo = clean_photo(data)
    assert b"iCCP" not in photo.content
    assert_no_metadata(photo)


def test_png_text_chunks_are_removed():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET)
    info.add_text("Author", SECRET, zip=True)
    info.add_itxt("XML:com.adobe.xmp", f"<x:xmpmeta>{SECRET}</x:xmpmeta>")
    data = encode(two_tone(), "PNG", pnginfo=info)
    assert Image.open(io.BytesIO(data)).text["Comment"] == SECRET
    photo = clean_photo(data)
    image = reopen(photo)
    assert image.text == {}
    assert_no_metadata(photo)


def test_webp_xmp_is_removed():
    data = encode(two_tone(), "WEBP", xmp=f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode())
    assert "xmp" in Image.open(io.BytesIO(data)).info
    assert_no_metadata(clean_photo(data))


# --- orientation and encoding -----------------------------------------------------------------------------

def test_orientation_6_is_turned_upright():
    data = encode(two_tone(40, 20), "JPEG", exif=exif_with(orientation=6))
    photo = clean_photo(data)
    image = reopen(photo)
    assert (photo.width, photo.height) == image.size == (20, 40)
    # Orientation 6 means "turn 90° clockwise to view": the red left half ends on top.
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom
    assert not image.getexif()


def test_without_orientation_the_size_is_kept():
    photo = clean_photo(encode(two_tone(40, 20), "JPEG", exif=exif_with()))
    assert (photo.width, photo.height) == (40, 20)


def test_result_fields_describe_the_content():
    photo = clean_photo(encode(two_tone(30, 10), "PNG"))
    assert photo.sha256 == hashlib.sha256(photo.content).hexdigest()
    assert (photo.content_type, photo.width, photo.height) == ("image/png", 30, 10)
    assert reopen(photo).size == (30, 10)


def test_cleaning_is_deterministic():
    data = encode(noisy(), "JPEG", exif=exif_with())
    assert clean_photo(data).sha256 == clean_photo(data).sha256


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA"])
def test_png_modes_keep_their_pixels(mode):
    source = two_tone(mode="RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode in ("RGBA", "LA"):
        source.putpixel((0, 0), (255, 0, 0, 0))
    source = source.convert(mode)
    photo = clean_photo(encode(source, "PNG"))
    image = reopen(photo)
    assert image.mode == mode
    assert image.tobytes() == source.tobytes()


def test_png_palette_transparency_is_kept():
    source = two_tone().convert("P")
    index = source.getpixel((0, 0))
    image = reopen(clean_photo(encode(source, "PNG", transparency=index)))
    assert image.info.get("transparency") == index
    assert image.convert("RGBA").getpixel((0, 0))[3] == 0


def test_cmyk_jpeg_becomes_rgb():
    data = encode(two_tone().convert("CMYK"), "JPEG")
    image = reopen(clean_photo(data))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.getpixel((5, 10))[0] > 200


def test_webp_with_alpha_keeps_alpha():
    source = two_tone(mode="RGBA")
    source.putpixel((0, 0), (0, 0, 0, 0))
    image = reopen(clean_photo(encode(source, "WEBP", lossless=True)))
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0


def test_jpeg_with_extra_pictures_counts_as_jpeg():
    data = encode(two_tone(), "MPO", save_all=True, append_images=[noisy(40, 20)])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = clean_photo(data)
    image = reopen(photo)
    assert photo.content_type == "image/jpeg" and image.format == "JPEG"
    assert image.getpixel((5, 10))[0] > 200  # the main picture, not the appended one


# --- rejections ---------------------------------------------------------------------------------------------

REJECTED_FORMATS = [
    ("GIF", lambda: encode(two_tone(), "GIF")),
    ("BMP", lambda: encode(two_tone(), "BMP")),
    ("TIFF", lambda: encode(two_tone(), "TIFF")),
    ("ICO", lambda: encode(two_tone(32, 32), "ICO")),
]
if features.check("avif"):
    REJECTED_FORMATS.append(("AVIF", lambda: encode(two_tone(), "AVIF")))


@pytest.mark.parametrize("name, make", REJECTED_FORMATS, ids=[n for n, _ in REJECTED_FORMATS])
def test_other_formats_are_rejected_by_name(name, make):
    with pytest.raises(InvalidPhoto) as caught:
        clean_photo(make())
    assert f"a {name} image" in str(caught.value)
    assert "send a JPEG, PNG or WebP photo" in str(caught.value)


def test_the_file_name_plays_no_part():
    gif = encode(two_tone(), "GIF")
    with pytest.raises(InvalidPhoto, match="GIF"):
        clean_photo(gif)  # there is no name or content type to pass, only bytes


@pytest.mark.parametrize("data, expected", [
    (b"", "empty"),
    (os.urandom(4096), "not an image"),
    (b"%PDF-1.7\n" + b"0" * 500, "not an image"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100, "HEIC"),
], ids=["empty", "random", "pdf", "heic"])
def test_non_images_are_rejected(data, expected):
    with pytest.raises(InvalidPhoto) as caught:
        clean_photo(data)
    assert expected in str(caught.value)
    assert "send a JPEG, PNG or WebP photo" in str(caught.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_rejected(fmt):
    data = encode(noisy(), fmt)
    Image.open(io.BytesIO(data)).load()  # the whole file is fine
    with pytest.raises(InvalidPhoto, match="damaged or incomplete"):
        clean_photo(data[: len(data) // 2])


def test_corrupt_png_is_rejected():
    data = bytearray(encode(noisy(), "PNG"))
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the compressed pixels breaks the checksum
    with pytest.raises(InvalidPhoto, match="damaged"):
        clean_photo(bytes(data))


def test_oversized_data_is_rejected_with_both_sizes():
    data = b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024 + 100 * 1024)
    with pytest.raises(InvalidPhoto) as caught:
        clean_photo(data)
    message = str(caught.value)
    assert "10.1 MB" in message and "limit of 10 MB" in message


def test_size_limit_is_inclusive():
    data = encode(noisy(), "JPEG")
    assert clean_photo(data, max_bytes=len(data)).width == 64
    with pytest.raises(InvalidPhoto, match="limit"):
        clean_photo(data, max_bytes=len(data) - 1)


def test_decompression_bomb_is_rejected(no_decoding):
    data = bomb_png(10_000, 10_000)
    assert len(data) < 500_000  # 100 megapixels in under half a megabyte
    with pytest.raises(InvalidPhoto) as caught:
        clean_photo(data, max_pixels=20_000_000)
    assert "too many pixels, more than the limit of 20 megapixels" in str(caught.value)


def test_photo_over_the_pixel_limit_is_rejected_with_its_size(no_decoding):
    data = bomb_png(8_000, 6_000)  # under Pillow's own limit, over ours
    with pytest.raises(InvalidPhoto) as caught:
        clean_photo(data)
    message = str(caught.value)
    assert "8000 × 6000 pixels (48 megapixels)" in message and "limit of 40 megapixels" in message


def test_pixel_limit_is_inclusive():
    assert clean_photo(encode(two_tone(40, 20), "PNG"), max_pixels=800).width == 40
    with pytest.raises(InvalidPhoto, match="pixels"):
        clean_photo(encode(two_tone(40, 20), "PNG"), max_pixels=799)


def test_pillow_bomb_error_is_reported_as_too_many_pixels(no_decoding):
    side = int((2 * Image.MAX_IMAGE_PIXELS) ** 0.5) + 10  # past Pillow's hard limit
    with pytest.raises(InvalidPhoto, match="too many pixels"):
        clean_photo(bomb_header(side, side), max_pixels=10**12)


def test_pillow_bomb_warning_is_reported_as_too_many_pixels(no_decoding):
    side = int((1.5 * Image.MAX_IMAGE_PIXELS) ** 0.5)  # past Pillow's soft limit only
    with pytest.raises(InvalidPhoto) as caught:
        clean_photo(bomb_header(side, side), max_pixels=10**12)
    assert "more than the limit of 89.5 megapixels" in str(caught.value)  # Pillow's limit, the one that struck


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animations_are_rejected(fmt):
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "green", "blue")]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    with pytest.raises(InvalidPhoto, match="animated"):
        clean_photo(data)


def test_errors_are_domain_errors():
    assert issubclass(InvalidPhoto, InvalidInput)
    assert issubclass(MediaNotFound, NotFound)


# --- the local store ------------------------------------------------------------------------------------------

def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_store_round_trip(tmp_path, photo):
    store = LocalMediaStore(tmp_path / "media" / "photos")  # the folder does not exist yet
    key = store.put(photo)
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}\.jpg", key)
    assert key == f"{photo.sha256[:2]}/{photo.sha256}.jpg"
    assert store.get(key) == photo.content
    assert isinstance(store, MediaStore)


@pytest.mark.parametrize("fmt, ext", [("PNG", "png"), ("WEBP", "webp")])
def test_store_key_uses_the_format_extension(tmp_path, fmt, ext):
    key = LocalMediaStore(tmp_path).put(clean_photo(encode(two_tone(), fmt)))
    assert key.endswith("." + ext)


def test_put_is_idempotent(tmp_path, photo):
    store = LocalMediaStore(tmp_path)
    key = store.put(photo)
    stamp = os.stat(tmp_path / key).st_mtime_ns
    assert store.put(photo) == key
    assert files_under(tmp_path) == [key]
    assert os.stat(tmp_path / key).st_mtime_ns == stamp


def test_put_refuses_a_photo_whose_hash_lies(tmp_path, photo):
    forged = CleanPhoto(b"other bytes", photo.content_type, photo.width, photo.height, photo.sha256)
    with pytest.raises(ValueError):
        LocalMediaStore(tmp_path).put(forged)
    assert files_under(tmp_path) == []


def test_unknown_key_is_not_found(tmp_path, photo):
    store = LocalMediaStore(tmp_path)
    store.put(photo)
    with pytest.raises(MediaNotFound):
        store.get("00/" + "0" * 64 + ".jpg")


@pytest.mark.parametrize("key", [
    "../outside.jpg",
    "ab/../../outside.jpg",
    "/etc/passwd",
    "",
    "ab/abc.jpg",
    "ab/" + "cd" * 32 + ".jpg",  # folder does not match the hash
    "AB/" + "ab" * 32 + ".jpg",
    "ab/" + "ab" * 32 + ".gif",
    "ab\\" + "ab" * 32 + ".jpg",
    "ab/" + "ab" * 32 + ".jpg\n",
])
def test_malformed_and_escaping_keys_are_not_found(tmp_path, key):
    root = tmp_path / "store"
    root.mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"not yours")
    store = LocalMediaStore(root)
    with pytest.raises(MediaNotFound):
        store.get(key)
    with pytest.raises(MediaNotFound):
        store.delete(key)
    assert (tmp_path / "outside.jpg").exists()


def test_absolute_key_inside_the_root_is_not_found(tmp_path, photo):
    store = LocalMediaStore(tmp_path)
    key = store.put(photo)
    with pytest.raises(MediaNotFound):
        store.get(str(tmp_path / key))


def test_delete(tmp_path, photo):
    store = LocalMediaStore(tmp_path)
    key = store.put(photo)
    store.delete(key)
    with pytest.raises(MediaNotFound):
        store.get(key)
    assert files_under(tmp_path) == []
    store.delete(key)  # already gone is fine: deleting is safe to retry


def test_put_leaves_no_temp_files(tmp_path, photo):
    store = LocalMediaStore(tmp_path)
    keys = {store.put(photo), store.put(clean_photo(encode(two_tone(), "PNG")))}
    assert files_under(tmp_path) == sorted(keys)


def test_failed_write_leaves_nothing_behind(tmp_path, photo, monkeypatch):
    def crash(src, dst):
        raise OSError("disk vanished")
    monkeypatch.setattr(media.os, "replace", crash)
    store = LocalMediaStore(tmp_path)
    with pytest.raises(OSError, match="disk vanished"):
        store.put(photo)
    assert files_under(tmp_path) == []
    monkeypatch.undo()
    assert store.get(store.put(photo)) == photo.content


def test_write_goes_through_a_temp_file_in_the_same_folder(tmp_path, photo, monkeypatch):
    moves = []
    real_replace = os.replace

    def spy(src, dst):
        moves.append((src, dst, os.path.getsize(src)))
        real_replace(src, dst)
    monkeypatch.setattr(media.os, "replace", spy)
    key = LocalMediaStore(tmp_path).put(photo)
    [(src, dst, size)] = moves
    assert os.path.dirname(src) == os.path.dirname(dst) == str(tmp_path / key.split("/")[0])
    assert str(dst) == str(tmp_path / key) and src != dst
    assert size == len(photo.content)  # complete before it gets its real name
