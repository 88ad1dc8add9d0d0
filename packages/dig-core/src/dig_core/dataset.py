"""The DiG dataset folder: reading and writing, atomic and resumable.

Layout (format version 2)::

    DIR/dataset.json      manifest: format_version, resolved config, versions, seed, counts, status,
                          and once complete the content_hash (see content_hash)
    DIR/metadata.jsonl    one pair per line (see ANNOTATION_KEYS), plus image_a_file_name and
                          image_b_file_name (= image_a / image_b) for Hugging Face's imagefolder
    DIR/README.md         a dataset card whose YAML header names the data files
    DIR/images/<id>_a.png, <id>_b.png

``datasets.load_dataset(str(DIR))`` then gives one ``train`` split, from any working directory, with
``image_a`` and ``image_b`` as decoded ``Image`` columns plus every annotation field. The card pins
the data files, so a stage name such as ``test-1`` is not taken for a split name.
Format 1 folders (``DIR/annotations.jsonl``, no file-name keys, no card) still read, and resume in
format 1; :func:`annotations_path` finds the lines of either.

A pair's line is appended only after both of its images are on disk (each written to a temporary
name and renamed), so after a crash the folder holds complete pairs, possibly a truncated last line
and some images without a line; :meth:`DatasetWriter.open` repairs both before continuing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dig_core.errors import DatasetError

MANIFEST = "dataset.json"
METADATA = "metadata.jsonl"  # format 2: the pairs' lines, as imagefolder metadata
ANNOTATIONS = "annotations.jsonl"  # format 1: the same lines without the file-name keys
CARD = "README.md"
IMAGES = "images"
FORMAT_VERSION = 2
#: the lines file of each format version
LINES_FILES = {1: ANNOTATIONS, 2: METADATA}
#: format 2: the keys datasets' imagefolder turns into Image columns named image_a / image_b
FILE_NAME_KEYS = {"image_a": "image_a_file_name", "image_b": "image_b_file_name"}

CARD_TEXT = f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path:
    - {METADATA}
    - {IMAGES}/*.png
---
# A DiG dataset

Image pairs that differ in K edited objects, with a box around every difference, made by
`dig generate` (DiG, Differential Grounding). `{MANIFEST}` holds the config, the software
versions, the counts and the content hash (`dig verify DIR` checks it).

```python
import datasets
ds = datasets.load_dataset("path/to/this/folder", split="train")  # image_a, image_b: PIL images
```
"""

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
def annotations_path(root: str | Path) -> Path:
    """The lines file of a dataset folder: ``metadata.jsonl`` (format 2) or ``annotations.jsonl``
    (format 1)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    found = [root / name for name in LINES_FILES.values() if (root / name).is_file()]
    if not found:
        raise DatasetError(f"{root / METADATA}: not found, nor {ANNOTATIONS} of format 1 "
                           f"(is {root} a DiG dataset folder?)")
    if len(found) > 1:
        raise DatasetError(f"{root} has both {METADATA} and {ANNOTATIONS}; keep the one that belongs to it")
    return found[0]


def format_version(root: str | Path) -> int:
    """The format version of a dataset folder, from its lines file."""
    name = annotations_path(root).name
    return next(v for v, n in LINES_FILES.items() if n == name)


def iter_jsonl(path: str | Path, error: type[Exception] = DatasetError,
               skip_torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a JSONL file; a line that is not a
    JSON object raises ``error`` naming ``file:line``. ``skip_torn_tail``: a last line without its
    newline (a writer killed mid-line, or one still writing) is skipped instead."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip() or (skip_torn_tail and not line.endswith("\n")):
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
    path = annotations_path(root)
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


def _image_bytes(root: Path, rel: str, pair_id: str) -> bytes:
    try:
        return (root / rel).read_bytes()
    except OSError as e:
        raise DatasetError(f"{root / rel}: image of pair {pair_id!r} cannot be read ({e.strerror or e})") from None


def content_hash(root: str | Path, progress: bool = False) -> str:
    """``sha256:<hex>`` over every pair in id order: its annotation (canonical JSON: sorted keys,
    no spaces, without the format-2 file-name keys) and the bytes of its two images, each item
    preceded by its length as 8 big-endian bytes. Equal hashes = the same annotations and pixels,
    whatever the format version or line order; ``dig verify`` recomputes it."""
    from tqdm import tqdm

    root = Path(root)
    skip = set(FILE_NAME_KEYS.values())
    entries = []
    for rec in read_annotations(root):
        core = {k: v for k, v in rec.items() if k not in skip}
        line = json.dumps(core, sort_keys=True, separators=(",", ":")).encode()
        entries.append((str(rec["id"]), line, rec["image_a"], rec["image_b"]))
    entries.sort(key=lambda e: e[0])  # stable: repeated ids keep their file order
    h = hashlib.sha256()
    for pair_id, line, *images in tqdm(entries, unit="pair", desc="content hash", disable=not progress):
        for item in (line, *(_image_bytes(root, rel, pair_id) for rel in images)):
            h.update(len(item).to_bytes(8, "big"))
            h.update(item)
    return f"sha256:{h.hexdigest()}"


# -- writing ----------------------------------------------------------------------------------------
class DatasetWriter:
    """Appends complete pairs to a dataset folder; reopening continues where a crash left off.

    A new folder is written in ``format_version`` (default: :data:`FORMAT_VERSION`); a folder that
    exists keeps the version of its lines file.
    """

    def __init__(self, root: str | Path, format_version: int = FORMAT_VERSION):
        if format_version not in LINES_FILES:
            raise ValueError(f"unknown dataset format version {format_version}; known: {sorted(LINES_FILES)}")
        self.root = Path(root)
        self.images = self.root / IMAGES
        self.format_version = format_version
        self.done: list[str] = []
        self.previous: dict[str, Any] | None = None  # manifest of the run being resumed
        self._fh = None

    @property
    def annotations(self) -> Path:
        """The lines file this writer appends to."""
        return self.root / LINES_FILES[self.format_version]

    def open(self, manifest: dict[str, Any]) -> DatasetWriter:
        """Create the folder or resume it. ``manifest['config']`` must match a resumed one's;
        ``manifest['format_version']`` is set to the folder's version."""
        try:
            self.images.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise DatasetError(f"cannot write to output folder {self.root}: {e.strerror or e}") from None
        existing = [v for v, name in LINES_FILES.items() if (self.root / name).exists()]
        if len(existing) > 1:
            raise DatasetError(f"{self.root} has both {METADATA} and {ANNOTATIONS}; refusing to touch it")
        if existing:
            self.format_version = existing[0]
        manifest_path = self.root / MANIFEST
        if manifest_path.exists():
            old = self.previous = read_manifest(self.root)
            if old.get("config") != manifest.get("config"):
                raise DatasetError(
                    f"{self.root} holds a dataset made with a different config; "
                    "rerun with the same config to resume it, or choose a new --out"
                )
        elif existing and self.annotations.stat().st_size > 0:
            raise DatasetError(f"{self.root} has {self.annotations.name} but no {MANIFEST}; refusing to touch it")
        manifest["format_version"] = self.format_version
        self._repair()
        if self.format_version >= 2 and not (self.root / CARD).exists():
            atomic_write_text(self.root / CARD, CARD_TEXT)
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
        """Write the images (atomically), then append the record's line (format 2: with the
        ``*_file_name`` keys added)."""
        for rel, data in images.items():
            atomic_write_bytes(self.root / rel, data)
        if self.format_version >= 2:
            record = {**record, **{fk: record[k] for k, fk in FILE_NAME_KEYS.items()}}
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
