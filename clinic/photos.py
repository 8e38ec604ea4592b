"""Scalp photos as the clinic keeps them: an upload is taken only when it is a JPEG or PNG image
by its content (not by its name or declared type), within a size limit; it is turned upright
as the camera said, converted to sRGB, scaled down to a longest side, and encoded again from
its pixels alone, so that no metadata (EXIF: the camera, the time, often the place) leaves with
it; it is stored under the photo folder by the SHA-256 of what was kept
(`photos/ab/abcdef....jpg`), so the same photo is stored once and a name never collides."""

import dataclasses
import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core.errors import Invalid

# Encoded as it came: a JPEG stays a JPEG (photographs), a PNG a PNG (lossless, transparency).
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
EXTENSIONS = dict(FORMATS.values())  # media type -> file extension
# Decoding is refused beyond this many pixels whatever the file's size: a small PNG can
# unfold into gigabytes. 64 megapixels is more than a phone's or a dermatoscope's photo.
MAX_SOURCE_PIXELS = 64_000_000
JPEG_QUALITY = 90
READ_CHUNK = 64 * 1024
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclasses.dataclass(frozen=True)
class CleanPhoto:
    """A photo ready to store: its encoded bytes and what the record says of them."""

    content: bytes
    media_type: str
    width: int
    height: int

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def read_upload(stream: BinaryIO, *, max_bytes: int, field: str = "file") -> bytes:
    """The upload's bytes, read no further than one byte past the limit: a larger file is a
    422 naming the field, never held in memory whole."""
    chunks, size = [], 0
    while chunk := stream.read(min(READ_CHUNK, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise Invalid({field: [photo_too_large(max_bytes)]})
    if size == 0:
        raise Invalid({field: ["The file is empty."]})
    return b"".join(chunks)


def clean_photo(data: bytes, *, max_pixels: int, field: str = "file") -> CleanPhoto:
    """The photo as it is kept (see the module's docstring); a file that is not a whole JPEG or
    PNG image is a 422 naming the field."""
    image = _decoded(data, max_pixels=max_pixels, field=field)
    media_type, _ = FORMATS[image.format]
    profile = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    mode = "RGBA" if media_type == "image/png" and _has_alpha(upright) else "RGB"
    kept = upright.convert(mode)
    kept.thumbnail((max_pixels, max_pixels), Image.Resampling.LANCZOS)
    kept = _in_srgb(kept, profile)
    # Pixels only: a new image built from them carries none of the original's metadata.
    bare = Image.frombytes(kept.mode, kept.size, kept.tobytes())
    out = io.BytesIO()
    if media_type == "image/jpeg":
        bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        bare.save(out, "PNG")
    return CleanPhoto(out.getvalue(), media_type, bare.width, bare.height)


def store_photo(photo: CleanPhoto, folder: str | Path) -> Path:
    """Write the photo under its content hash, unless a photo of the same content is already
    there; written to a temporary name and renamed, so a reader never sees half a file."""
    path = photo_path(folder, photo.content_hash, media_type=photo.media_type)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
        part.write(photo.content)
    os.replace(part.name, path)
    return path


def photo_path(folder: str | Path, content_hash: str, *, media_type: str) -> Path:
    """Where a stored photo lives: `folder/ab/abcdef....jpg`."""
    return Path(folder) / content_hash[:2] / f"{content_hash}.{EXTENSIONS[media_type]}"


def _decoded(data: bytes, *, max_pixels: int, field: str) -> Image.Image:
    refusal = Invalid({field: ["Not a JPEG or PNG image (checked by its content)."]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if image.width * image.height > MAX_SOURCE_PIXELS:
                raise Invalid(
                    {field: [f"The photo has more than {MAX_SOURCE_PIXELS // 1_000_000} "
                             "million pixels."]}
                )  # fmt: skip
            if image.format == "JPEG":
                # Decode a large JPEG at a fraction of its size when that still covers the
                # longest side kept: far less memory and time than decoding it whole.
                image.draft("RGB", (max_pixels, max_pixels))
            image.load()
    except Invalid:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError, EOFError):  # fmt: skip
        raise refusal from None
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _in_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """The image's colours converted from the colour profile it came with to sRGB: a phone's
    wide-gamut photo would look washed out once its profile is dropped."""
    if not profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, SRGB, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a profile that cannot be read or does not fit: the pixels as they are
    return converted or image


def photo_too_large(max_bytes: int) -> str:
    megabytes = max_bytes / (1024 * 1024)
    size = f"{megabytes:g} MB" if megabytes >= 1 else f"{max_bytes} bytes"
    return f"The photo is larger than {size}."
