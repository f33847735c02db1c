"""Photos attached to complaints: checked to be real images before anything is stored.

The bytes must start like a JPEG, PNG or WebP file and Pillow must decode the image's header
and verify its structure; a file larger than :data:`MAX_PHOTO_BYTES` or with more than
:data:`MAX_PIXELS` pixels (a decompression bomb) is refused. Stored under
``<data_dir>/civic/photos/`` with a random name; the complaint's ``media_url`` points at it.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from urbanops.errors import PayloadTooLargeError, ValidationError

MAX_PHOTO_BYTES = 10 * 2**20
MAX_PIXELS = 40_000_000
_MAGIC = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png", b"RIFF": "webp"}
_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def check_photo(data: bytes) -> str:
    """The file extension of a valid photo, or an error saying why it is not one."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PayloadTooLargeError(f"photo larger than {MAX_PHOTO_BYTES // 2**20} MiB")
    if not data:
        raise ValidationError("photo: empty file", field="photo")
    if not any(data.startswith(m) for m in _MAGIC) or (
        data.startswith(b"RIFF") and data[8:12] != b"WEBP"
    ):
        raise ValidationError("photo: not a JPEG, PNG or WebP image", field="photo")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ValidationError(
                    f"photo: {img.width} x {img.height} pixels is too large", field="photo"
                )
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationError(f"photo: not a readable image ({exc})", field="photo") from None
    if fmt not in _FORMATS:
        raise ValidationError("photo: not a JPEG, PNG or WebP image", field="photo")
    return _FORMATS[fmt]


def store_photo(data: bytes, data_dir: Path, request_id: int) -> str:
    """Check and store a photo; returns its file name (random, so not guessable)."""
    ext = check_photo(data)
    folder = Path(data_dir) / "civic" / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{request_id}-{secrets.token_hex(12)}.{ext}"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(folder / name)
    return name


def photo_path(data_dir: Path, name: str) -> Path:
    """The stored photo called ``name`` (names are checked: no path tricks)."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 100:
        raise ValidationError("not a photo name")
    path = Path(data_dir) / "civic" / "photos" / name
    if not path.is_file():
        from urbanops.errors import NotFoundError

        raise NotFoundError("no such photo")
    return path
