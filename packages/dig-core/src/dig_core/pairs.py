"""Loading a pair's images from a dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dig_core.errors import DatasetError


def load_image(root: str | Path, rel: str) -> np.ndarray:
    from PIL import Image

    path = Path(root) / rel
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: image not found") from None
    except OSError as e:
        raise DatasetError(f"{path}: unreadable image ({e})") from None


def load_pair(root: str | Path, rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return load_image(root, rec["image_a"]), load_image(root, rec["image_b"])
