"""Photos from reporters: decoded and re-encoded from their pixels alone, so nothing of the original file
(EXIF GPS and device, XMP, IPTC, comments, thumbnails, trailing bytes) survives. This is the first thing
that happens to an upload; only the clean JPEG is ever encrypted and stored."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from safestreets.errors import InputError

ALLOWED = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
MAX_PIXELS = 40_000_000  # a decompression bomb is refused, not decoded
LONG_SIDE = 2048  # big enough to read a number plate, small enough to keep uploads cheap
QUALITY = 85


def clean(data: bytes, name: str = "photo") -> bytes:
    """A metadata-free JPEG of the image in ``data``; InputError if it is not an image we read."""
    if not data:
        raise InputError(name, "the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in ALLOWED:
                    raise InputError(name, f"{img.format or 'this'} files are not accepted: send a photo")
                if img.width * img.height > MAX_PIXELS:
                    raise InputError(name, "the picture is too large")
                img.load()
                upright = ImageOps.exif_transpose(img)  # keep the orientation the camera meant, then drop it
                rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise InputError(name, "this file is not a picture we can read (send a JPEG or PNG photo)") from exc
    rgb.thumbnail((LONG_SIDE, LONG_SIDE))
    # A new image from the pixels alone: no info dict, no EXIF, no ICC profile carried over.
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    bare.save(out, format="JPEG", quality=QUALITY, optimize=False)
    return out.getvalue()
