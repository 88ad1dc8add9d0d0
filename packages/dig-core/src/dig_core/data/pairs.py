"""Image files of a dataset: PNG encoding and loading a pair's images."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from dig_core.errors import DatasetError


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 array, with fixed settings so equal arrays give equal bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def load_image(root: str | Path, rel: str) -> np.ndarray:
    from PIL import Image

    from dig_core.data.dataset import image_path

    path = image_path(root, rel)
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: image not found") from None
    except (OSError, SyntaxError, ValueError) as e:  # what PIL raises on damaged data
        raise DatasetError(f"{path}: unreadable image ({e})") from None


def load_pair(root: str | Path, rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return load_image(root, rec["image_a"]), load_image(root, rec["image_b"])
