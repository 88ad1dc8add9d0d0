"""The DiG dataset folder: reading and writing, atomic and resumable.

Layout::

    DIR/dataset.json        manifest: resolved config, versions, seed, counts, status
    DIR/annotations.jsonl   one pair per line (see ANNOTATION_KEYS)
    DIR/images/<id>_a.png, <id>_b.png

A pair's line is appended only after both of its images are on disk (each written to a temporary
name and renamed), so after a crash the folder holds complete pairs, possibly a truncated last line
and some images without a line; :meth:`DatasetWriter.open` repairs both before continuing.
``datasets.load_dataset("json", data_files=str(DIR / "annotations.jsonl"))`` reads the annotations.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dig_core.errors import DatasetError

MANIFEST = "dataset.json"
ANNOTATIONS = "annotations.jsonl"
IMAGES = "images"
FORMAT_VERSION = 1

ANNOTATION_KEYS = (
    "id", "stage", "image_a", "image_b", "width", "height", "boxes", "differences",
    "scene_a", "scene_b", "seed",
)


# -- atomic files -----------------------------------------------------------------------------------
def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_line(record: dict[str, Any]) -> str:
    """One annotation line: compact JSON, keys in the writer's order, no NaN."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"


# -- reading ----------------------------------------------------------------------------------------
def _annotations_path(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    path = root / ANNOTATIONS
    if not path.is_file():
        raise DatasetError(f"{path}: not found (is {root} a DiG dataset folder?)")
    return path


def iter_jsonl(path: str | Path, error: type[Exception] = DatasetError) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a JSONL file; a line that is not a
    JSON object raises ``error`` naming ``file:line``."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise error(f"{path}:{lineno}: corrupt line ({e.msg} at column {e.colno})") from None
            if not isinstance(rec, dict):
                raise error(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
            yield lineno, rec


def read_annotations(root: str | Path) -> Iterator[dict[str, Any]]:
    """Yield every pair of a dataset; a corrupt line raises :class:`DatasetError` naming it."""
    path = _annotations_path(root)
    for lineno, rec in iter_jsonl(path):
        missing = [k for k in ANNOTATION_KEYS if k not in rec]
        if missing:
            raise DatasetError(f"{path}:{lineno}: annotation {rec.get('id', '?')!r} lacks key(s) {missing}")
        yield rec


def read_manifest(root: str | Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found (is {root} a DiG dataset folder?)") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: corrupt manifest ({e})") from None


# -- writing ----------------------------------------------------------------------------------------
class DatasetWriter:
    """Appends complete pairs to a dataset folder; reopening continues where a crash left off."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.images = self.root / IMAGES
        self.annotations = self.root / ANNOTATIONS
        self.done: list[str] = []
        self.previous: dict[str, Any] | None = None  # manifest of the run being resumed
        self._fh = None

    def open(self, manifest: dict[str, Any]) -> DatasetWriter:
        """Create the folder or resume it. ``manifest['config']`` must match a resumed one's."""
        try:
            self.images.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise DatasetError(f"cannot write to output folder {self.root}: {e.strerror or e}") from None
        manifest_path = self.root / MANIFEST
        if manifest_path.exists():
            old = self.previous = read_manifest(self.root)
            if old.get("config") != manifest.get("config"):
                raise DatasetError(
                    f"{self.root} holds a dataset made with a different config; "
                    "rerun with the same config to resume it, or choose a new --out"
                )
        elif self.annotations.exists() and self.annotations.stat().st_size > 0:
            raise DatasetError(f"{self.root} has {ANNOTATIONS} but no {MANIFEST}; refusing to touch it")
        self._repair()
        self.write_manifest(manifest)
        self._fh = open(self.annotations, "a", encoding="utf-8")
        return self

    def _repair(self) -> None:
        """Drop a truncated last line, leftover temp files and images without a line."""
        if self.annotations.exists():
            raw = self.annotations.read_bytes()
            keep = raw[: raw.rfind(b"\n") + 1]
            if len(keep) != len(raw):
                with open(self.annotations, "r+b") as f:
                    f.truncate(len(keep))
            for lineno, line in enumerate(keep.decode("utf-8").splitlines(), 1):
                try:
                    self.done.append(json.loads(line)["id"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DatasetError(f"{self.annotations}:{lineno}: corrupt annotation line; cannot resume") from None
        referenced = {f"{i}_{s}.png" for i in self.done for s in ("a", "b")}
        for p in self.images.iterdir():
            if p.name not in referenced:
                p.unlink()
        for p in self.root.glob(".*.tmp"):
            p.unlink()

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    def write_pair(self, record: dict[str, Any], images: dict[str, bytes]) -> None:
        """Write the images (atomically), then append the record's line."""
        for rel, data in images.items():
            atomic_write_bytes(self.root / rel, data)
        self._fh.write(dumps_line(record))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.done.append(record["id"])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def image_names(pair_id: str) -> tuple[str, str]:
    return f"{IMAGES}/{pair_id}_a.png", f"{IMAGES}/{pair_id}_b.png"
