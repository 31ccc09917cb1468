"""domain.core.photos: uploads become small, upright, metadata-free JPEGs; anything else is refused."""

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms

from domain.core.errors import DomainError
from domain.core.photos import process_photo, thumbnail


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def refusal(data: bytes, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        process_photo(data, **kwargs)
    return caught.value


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims the given size: what a decompression bomb looks like."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00"))
            + chunk(b"IEND", b""))


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Courier Phone"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 13.0, 50.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 22.0)
    return exif


def test_large_jpeg_is_downscaled_and_loses_gps_and_all_metadata():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = encode(Image.new("RGB", (3000, 2000), (200, 60, 40)), "JPEG", exif=camera_exif(),
                      icc_profile=icc, comment=b"shot at Lane 12", xmp=b"<x:xmpmeta>secret</x:xmpmeta>")
    assert decode(original).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really carries GPS

    out = process_photo(original)

    result = decode(out)
    assert result.format == "JPEG" and result.mode == "RGB"
    assert result.size == (1600, 1067)
    assert len(result.getexif()) == 0
    assert not result.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in out
    assert b"Lane 12" not in out and b"secret" not in out
    assert "icc_profile" not in result.info and "comment" not in result.info
    assert result.getpixel((800, 500)) == pytest.approx((200, 60, 40), abs=4)


def test_exif_orientation_is_applied_before_it_is_dropped():
    # Stored sideways: left half red, right half blue; orientation 6 means "rotate 90° clockwise".
    sideways = Image.new("RGB", (200, 100), (255, 0, 0))
    sideways.paste((0, 0, 255), (100, 0, 200, 100))

    result = decode(process_photo(encode(sideways, "JPEG", exif=camera_exif(orientation=6))))

    assert result.size == (100, 200)
    assert result.getpixel((50, 20))[0] > 200  # the left (red) half is now on top
    assert result.getpixel((50, 180))[2] > 200  # and the blue half at the bottom
    assert len(result.getexif()) == 0


def test_png_with_alpha_becomes_jpeg_on_white():
    picture = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    picture.paste((0, 128, 0, 255), (0, 0, 150, 200))

    result = decode(process_photo(encode(picture, "PNG")))

    assert result.format == "JPEG" and result.mode == "RGB" and result.size == (300, 200)
    assert result.getpixel((250, 100)) == pytest.approx((255, 255, 255), abs=4)  # was transparent
    assert result.getpixel((50, 100)) == pytest.approx((0, 128, 0), abs=4)


def test_palette_png_with_transparency_becomes_white_not_black():
    picture = Image.new("P", (100, 100), 0)
    picture.putpalette([0, 0, 0, 255, 0, 0])
    result = decode(process_photo(encode(picture, "PNG", transparency=0)))
    assert result.getpixel((50, 50)) == pytest.approx((255, 255, 255), abs=4)


def test_webp_becomes_jpeg():
    result = decode(process_photo(encode(Image.new("RGB", (640, 480), (10, 20, 200)), "WEBP")))
    assert result.format == "JPEG" and result.size == (640, 480)
    assert result.getpixel((320, 240)) == pytest.approx((10, 20, 200), abs=6)


def test_cmyk_jpeg_becomes_rgb():
    result = decode(process_photo(encode(Image.new("CMYK", (120, 80), (0, 255, 255, 0)), "JPEG")))
    assert result.mode == "RGB"
    red, green, blue = result.getpixel((60, 40))
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_grey_png_keeps_its_tones():
    result = decode(process_photo(encode(Image.new("I;16", (64, 64), 32768), "PNG")))
    assert result.getpixel((32, 32)) == pytest.approx((128, 128, 128), abs=4)


def test_small_image_is_not_enlarged():
    result = decode(process_photo(encode(Image.new("RGB", (320, 240), "white"), "PNG")))
    assert result.size == (320, 240)


def test_thumbnail_fits_the_given_side():
    photo = encode(Image.new("RGB", (1200, 1800), "orange"), "JPEG")
    assert decode(thumbnail(photo)).size == (267, 400)
    assert decode(thumbnail(photo, side=120)).size == (80, 120)


def test_huge_jpeg_from_a_phone_is_accepted_because_it_decodes_at_reduced_scale():
    # 54 megapixels is over the decode limit at full size, but libjpeg decodes it at 1/4 scale.
    photo = encode(Image.new("L", (9000, 6000), 90), "JPEG")
    result = decode(process_photo(photo))
    assert result.size == (1600, 1067)


@pytest.mark.parametrize("data", [
    b"this is a shopping list, not a photo\n" * 20,  # a text file renamed to .jpg
    encode(Image.new("RGB", (50, 50), "red"), "GIF"),
    encode(Image.new("RGB", (50, 50), "red"), "BMP"),
    encode(Image.new("RGB", (50, 50), "red"), "TIFF"),
    encode(Image.new("RGB", (400, 300), "red"), "JPEG")[:300],  # truncated upload
    b"\xff\xd8\xff\xe0" + b"\x00" * 500,  # JPEG magic, garbage after
    png_header_only(100, 100),  # valid header, no pixel data
], ids=["text", "gif", "bmp", "tiff", "truncated-jpeg", "corrupt-jpeg", "empty-png"])
def test_non_images_and_other_formats_are_unsupported_media(data):
    error = refusal(data)
    assert error.code == "unsupported_media"
    assert error.details["field"] == "photo"


def test_empty_upload_is_a_validation_error():
    error = refusal(b"")
    assert error.code == "validation_failed" and error.details["field"] == "photo"


def test_upload_over_the_byte_limit_is_too_large():
    error = refusal(b"\xff\xd8\xff" + b"\x00" * (20 * 1024 * 1024))
    assert error.code == "too_large"
    assert error.details == {"field": "photo", "max_bytes": 10 * 1024 * 1024}


def test_byte_limit_is_configurable():
    photo = encode(Image.new("RGB", (100, 100), "blue"), "PNG")
    assert refusal(photo, max_bytes=len(photo) - 1).code == "too_large"
    assert decode(process_photo(photo, max_bytes=len(photo))).format == "JPEG"


@pytest.mark.parametrize("width, height", [
    (30000, 30000),  # beyond Pillow's own bomb limit: refused inside Image.open
    (8000, 8000),  # 64 megapixels: under Pillow's limit, over ours
])
def test_decompression_bomb_png_is_refused_from_its_header(width, height):
    bomb = png_header_only(width, height)
    assert len(bomb) < 100  # refused without ever allocating width * height pixels

    error = refusal(bomb)

    assert error.code == "too_large"
    assert error.details["problem"] == "dimensions"
    assert error.details["field"] == "photo"
