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

Safety rules of the writer: a folder is written only when it is missing, empty or holds a DiG
manifest (:func:`check_output_folder`); one process writes it at a time (:class:`DatasetLock`, an
``flock`` on ``DIR/.dig-lock``); every check runs before the first byte is changed; the repair
removes only files whose names the dataset's own plan produces (its images, DiG's temporary files).
Commands that read a dataset and write elsewhere refuse an output inside it
(:func:`refuse_output_in_dataset`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dig_core.data.io import (
    atomic_write_bytes,
    atomic_write_text,
    dumps_json,
    dumps_line,
    iter_jsonl,
    loads_strict,
    temp_target,
)
from dig_core.errors import DatasetError, OutputError

MANIFEST = "dataset.json"
METADATA = "metadata.jsonl"  # format 2: the pairs' lines, as imagefolder metadata
ANNOTATIONS = "annotations.jsonl"  # format 1: the same lines without the file-name keys
CARD = "README.md"
IMAGES = "images"
HISTOGRAMS = "difficulty.png"  # the difficulty histograms `dig generate` draws
LOCK = ".dig-lock"  # held (flock) by the one process writing the folder; holds its PID
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

#: the names a dataset folder's top level holds (besides DiG's hidden temporary files)
DATASET_NAMES = frozenset({MANIFEST, METADATA, ANNOTATIONS, CARD, IMAGES, HISTOGRAMS, LOCK})
#: the files DiG writes atomically into a dataset folder (their temp files are DiG's to remove)
DATASET_FILES = DATASET_NAMES - {IMAGES, LOCK}

ANNOTATION_KEYS = (
    "id", "stage", "image_a", "image_b", "width", "height", "boxes", "differences",
    "scene_a", "scene_b", "seed",
)
#: problems listed in one error message (``dig verify`` lists them all)
MAX_LISTED = 10


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


def _path_problem(rel: Any) -> str | None:
    """Why an image path from a dataset line is not a relative path inside the dataset folder
    (absolute, a drive, ``..`` that leaves it, not a path at all); None when it is. Plain string
    checks: this runs twice per line on every read."""
    if not isinstance(rel, str) or not rel.strip() or "\0" in rel:
        return "expected a relative image path such as images/<id>_a.png"
    parts = rel.replace("\\", "/").split("/")
    if parts[0] == "" or ":" in parts[0]:  # /abs, \\server, C:\x, C:x
        return "absolute"
    if ".." in parts:
        depth = 0
        for part in parts:
            depth += -1 if part == ".." else 0 if part in ("", ".") else 1
            if depth < 0:
                return "leaves"
    return None


def image_path(root: str | Path, rel: Any, where: str = "") -> Path:
    """The file of an image path ``rel`` from a dataset line: relative to ``root`` and inside it.
    An absolute path, one with ``..`` that leaves the folder, or not a path raises
    :class:`DatasetError` (``where``: e.g. ``metadata.jsonl:3: image_a`` for the message)."""
    problem = _path_problem(rel)
    if problem is not None:
        head = f"{where}: " if where else ""
        if problem.startswith("expected"):
            raise DatasetError(f"{head}{problem}, got {rel!r}")
        raise DatasetError(f"{head}{rel!r} is not inside the dataset folder {root}; image paths must be "
                           "relative to it (e.g. images/<id>_a.png)")
    return Path(root) / rel


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_NUMBER_TYPES = (int, float)


def _box_problem(box: Any, width: int, height: int) -> str | None:
    # the fast path of every sound box: 4 plain numbers with 0 <= x0 < x1 <= width (NaN and the
    # infinities fail these comparisons)
    if (type(box) in (list, tuple) and len(box) == 4 and all(type(v) in _NUMBER_TYPES for v in box)
            and 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height):
        return None
    if (not isinstance(box, (list, tuple)) or len(box) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
        return f"expected [x0, y0, x1, y1] of 4 finite numbers, got {box!r}"
    x0, y0, x1, y1 = box
    if not (x0 < x1 and y0 < y1):
        return f"{list(box)} is empty or inverted (needs x0 < x1 and y0 < y1)"
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        return f"{list(box)} is outside the {width}x{height} image"
    return None


def line_problems(root: str | Path, rec: dict[str, Any], where: str) -> list[str]:
    """Everything wrong with one dataset line (``where``: ``file:line``): missing keys, an id that
    is not a string, image paths outside the folder, a size that is not two positive integers,
    boxes (``boxes`` and each difference's ``box``) that are not finite, are inverted or leave the
    image."""
    missing = [k for k in ANNOTATION_KEYS if k not in rec]
    if missing:
        return [f"{where}: annotation {rec.get('id', '?')!r} lacks key(s) {missing}"]
    out = []
    if not isinstance(rec["id"], str) or not rec["id"]:
        out.append(f"{where}: id must be a non-empty string, got {rec['id']!r}")
    for key in FILE_NAME_KEYS:
        if _path_problem(rec[key]) is not None:
            try:
                image_path(root, rec[key], f"{where}: {key}")
            except DatasetError as e:
                out.append(str(e))
    w, h = rec["width"], rec["height"]
    if not (_is_int(w) and _is_int(h) and w > 0 and h > 0):
        return [*out, f"{where}: width and height must be positive integers, got {w!r}x{h!r}"]
    boxes, diffs = rec["boxes"], rec["differences"]
    if not isinstance(boxes, list) or not isinstance(diffs, list):
        return [*out, f"{where}: boxes and differences must be lists"]
    for i, box in enumerate(boxes):
        if (p := _box_problem(box, w, h)) is not None:
            out.append(f"{where}: boxes[{i}]: {p}")
    for i, d in enumerate(diffs):
        if not isinstance(d, dict) or not isinstance(d.get("type"), str):
            out.append(f"{where}: differences[{i}]: expected an object with a 'type' and a 'box', got {d!r}")
        elif "box" in d and (p := _box_problem(d["box"], w, h)) is not None:
            out.append(f"{where}: differences[{i}].box: {p}")
    return out


def image_problems(root: str | Path, rec: dict[str, Any], where: str) -> list[str]:
    """Both images of a line (whose paths :func:`line_problems` accepted): present, inside the
    folder also after following links, decodable PNG data (every chunk's checksum) of the line's
    width x height."""
    from PIL import Image

    out = []
    real_root = Path(root).resolve()
    for key in FILE_NAME_KEYS:
        path = image_path(root, rec[key])
        real = path.resolve()
        if not real.is_relative_to(real_root):
            out.append(f"{where}: {key}: {path} leads to {real}, outside the dataset folder {root}; images "
                       "must be files inside it")
            continue
        try:
            with Image.open(path) as im:
                size = im.size
                im.verify()
        except FileNotFoundError:
            out.append(f"{where}: {key}: {path} not found")
            continue
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error on bad data
            out.append(f"{where}: {key}: {path} is not a readable image ({e})")
            continue
        if size != (rec["width"], rec["height"]):
            out.append(f"{where}: {key}: {path} is {size[0]}x{size[1]} but the line says "
                       f"{rec['width']}x{rec['height']}")
    return out


def scan_dataset(root: str | Path, images: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Every pair of a dataset that is sound, and every problem of the folder at once: lines that
    are not JSON objects (bad UTF-8, bad JSON, NaN), what :func:`line_problems` finds, ids on more
    than one line, and with ``images`` what :func:`image_problems` finds. The one check of a
    dataset's lines that every reader uses (through :func:`read_annotations`) and ``dig verify``
    reports in full."""
    root = Path(root)
    path = annotations_path(root)
    problems: list[str] = []
    records: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    for lineno, rec in iter_jsonl(path, problems=problems, allow_nan=False):
        where = f"{path}:{lineno}"
        found = line_problems(root, rec, where)
        pid = rec.get("id")
        if isinstance(pid, str):
            if pid in first:
                found.append(f"{where}: id {pid!r} is also on line {first[pid]}")
            else:
                first[pid] = lineno
        if images and not found:
            found = image_problems(root, rec, where)
        problems.extend(found)
        if not found:
            records.append(rec)
    return records, problems


def problems_message(problems: list[str], limit: int | None = MAX_LISTED) -> str:
    """One error message for a list of problems (the first ``limit``; None: all of them)."""
    if len(problems) == 1:
        return problems[0]
    shown = problems if limit is None else problems[:limit]
    more = len(problems) - len(shown)
    return (f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in shown)
            + (f"\n  ... and {more} more (dig verify lists them all)" if more > 0 else ""))


def read_annotations(root: str | Path, images: bool = False) -> list[dict[str, Any]]:
    """Every pair of a dataset, in file order, after :func:`scan_dataset` found no problem (with
    ``images``: the images are checked too); else :class:`DatasetError` naming each problem's
    file and line."""
    records, problems = scan_dataset(root, images)
    if problems:
        raise DatasetError(problems_message(problems))
    return records


def read_manifest(root: str | Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    try:
        data = loads_strict(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found (is {root} a DiG dataset folder?)") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: corrupt manifest (not UTF-8 text: byte at offset {e.start})") from None
    except RecursionError:
        raise DatasetError(f"{path}: corrupt manifest (nested too deeply)") from None
    except ValueError as e:  # JSONDecodeError included
        raise DatasetError(f"{path}: corrupt manifest ({e})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: corrupt manifest (expected a JSON object, got {type(data).__name__})")
    return data


# -- the rules of a folder that is written ----------------------------------------------------------
def _listing(root: Path, names: Sequence[str], limit: int = 5) -> str:
    shown = [n + ("/" if (root / n).is_dir() else "") for n in names[:limit]]
    return ", ".join(shown) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_output_folder(root: str | Path) -> None:
    """Refuse (:class:`OutputError`) a folder that ``dig generate`` may not write: anything but a
    missing folder, an empty one, or one holding a DiG manifest. A folder whose creation was cut
    short holds only DiG's lock file or the manifest's temporary file; that counts as empty."""
    root = Path(root)
    if not root.exists():
        return
    if not root.is_dir():
        raise OutputError(f"{root}: exists and is not a folder; --out must be a new or empty folder, or a "
                          "dataset folder that dig generate wrote")
    try:
        names = sorted(os.listdir(root))
    except OSError as e:
        raise DatasetError(f"cannot read output folder {root}: {e.strerror or e}") from None
    if MANIFEST in names:
        manifest = read_manifest(root)
        if not {"format_version", "config"} <= manifest.keys():
            raise OutputError(f"{root / MANIFEST}: not a DiG manifest (no format_version and config), so {root} is "
                              "not a DiG dataset folder; refusing to write into it: choose a new or empty --out")
        return
    foreign = [n for n in names if n != LOCK and temp_target(n) != MANIFEST]
    if foreign:
        raise OutputError(f"{root}: not empty and not a DiG dataset (no {MANIFEST}): it holds {_listing(root, foreign)}; "
                          "dig generate writes only into a new or empty folder or a dataset it wrote: choose "
                          "another --out")


class DatasetLock:
    """The one-writer lock of a dataset folder: an exclusive ``flock`` on ``DIR/.dig-lock``, which
    holds the writer's PID. :meth:`acquire` fails at once (:class:`OutputError`, naming that PID)
    when another process holds it; :meth:`release` removes the file. The kernel drops the lock of a
    process that dies, so a killed writer never blocks the next one."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / LOCK
        self._fd: int | None = None

    def acquire(self) -> DatasetLock:
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(f"{self.root} is being written by another process (pid {pid}, lock {self.path}): "
                                  "a dataset folder has one writer; wait for it to end or stop it, then "
                                  "rerun to resume") from None
            except OSError as e:
                os.close(fd)
                raise DatasetError(f"{self.path}: cannot lock the dataset folder ({e.strerror or e})") from None
            try:  # the holder we waited for may have removed the file: hold the one at the path
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self._fd = fd
                return self
            os.close(fd)
        raise OutputError(f"{self.path}: cannot be locked: other processes keep replacing it")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still held: a process waiting on it finds a new file
        finally:
            os.close(self._fd)
            self._fd = None


def refuse_output_in_dataset(out: str | Path, dataset: str | Path, option: str = "--out") -> None:
    """Refuse (:class:`OutputError`) an output path that would change the dataset folder being read:
    the folder itself, or a path inside it under a name the dataset uses (:data:`DATASET_NAMES`,
    ``images/`` and below, hidden temporary files). A report under another name inside it, or
    anywhere outside it, is fine. Every command that reads a dataset and writes calls this."""
    if not str(out).strip():
        raise OutputError(f"{option} is empty: give the file or folder to write")
    data = Path(dataset).resolve()
    p = Path(os.path.abspath(out))
    # a file written atomically replaces a symlink at the end of the path; a folder is followed
    for target in {p.parent.resolve() / p.name if p.name else p, p.resolve()}:
        if target == data:
            raise OutputError(f"{option} {out} is the dataset folder being read ({dataset}); write it elsewhere")
        try:
            first = target.relative_to(data).parts[0]
        except ValueError:
            continue
        if first in DATASET_NAMES or first.startswith("."):
            raise OutputError(f"{option} {out} is inside the dataset being read ({dataset}), where it would "
                              f"replace or add to its {first}; write it outside the dataset folder")


def _image_bytes(root: Path, rel: str, pair_id: str) -> bytes:
    try:
        return image_path(root, rel).read_bytes()
    except OSError as e:
        raise DatasetError(f"{root / rel}: image of pair {pair_id!r} cannot be read ({e.strerror or e})") from None


def content_hash(root: str | Path, progress: bool = False, records: list[dict[str, Any]] | None = None) -> str:
    """``sha256:<hex>`` over every pair in id order: its annotation (canonical JSON: sorted keys,
    no spaces, without the format-2 file-name keys) and the bytes of its two images, each item
    preceded by its length as 8 big-endian bytes. Equal hashes = the same annotations and pixels,
    whatever the format version or line order; ``dig verify`` recomputes it. ``records``: the
    folder's pairs when the caller has read them already (:func:`scan_dataset`)."""
    from tqdm import tqdm

    root = Path(root)
    skip = set(FILE_NAME_KEYS.values())
    entries = []
    for rec in read_annotations(root) if records is None else records:
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
    exists keeps the version of its lines file. The writer holds the folder's :class:`DatasetLock`
    from :meth:`open` to :meth:`close`.
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
        self._lock: DatasetLock | None = None

    @property
    def annotations(self) -> Path:
        """The lines file this writer appends to."""
        return self.root / LINES_FILES[self.format_version]

    def open(self, manifest: dict[str, Any], planned: Sequence[str] | None = None) -> DatasetWriter:
        """Create the folder or resume it, holding its lock until :meth:`close`.

        ``manifest['config']`` must match a resumed one's; ``manifest['format_version']`` is set to
        the folder's version. ``planned``: the ids of every pair the config asks for, in order (a
        sequence whose slices and ``in`` are cheap, e.g. :class:`dig_core.generate.PlanIds`); the
        pairs on disk must be a prefix of them, and the repair removes only images named after
        them (None: nothing is removed but a torn last line). Everything is checked before the
        folder is changed."""
        check_output_folder(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock = DatasetLock(self.root).acquire()
        except OSError as e:
            raise DatasetError(f"cannot write to output folder {self.root}: {e.strerror or e}") from None
        try:
            self._open(manifest, planned)
        except BaseException:
            self.close()
            raise
        return self

    def _open(self, manifest: dict[str, Any], planned: Sequence[str] | None) -> None:
        check_output_folder(self.root)  # again: no other writer can change it now
        existing = [v for v, name in LINES_FILES.items() if (self.root / name).exists()]
        if len(existing) > 1:
            raise DatasetError(f"{self.root} has both {METADATA} and {ANNOTATIONS}; refusing to touch it")
        if existing:
            self.format_version = existing[0]
        if (self.root / MANIFEST).exists():
            old = self.previous = read_manifest(self.root)
            if old.get("config") != manifest.get("config"):
                raise DatasetError(
                    f"{self.root} holds a dataset made with a different config; "
                    "rerun with the same config to resume it, or choose a new --out"
                )
        if self.images.exists() and not self.images.is_dir():
            raise DatasetError(f"{self.images}: not a folder (a dataset keeps its images there); refusing to touch "
                               f"{self.root}")
        done, torn = self._read_lines()
        if planned is not None and done != list(planned[: len(done)]):
            raise DatasetError(f"{self.root}: its pairs are not a prefix of this config's plan; choose a new --out")
        # every check passed: from here on the folder changes (the manifest first, so that a folder
        # cut short here is still recognised as DiG's)
        manifest["format_version"] = self.format_version
        try:
            self.write_manifest(manifest)
            self.images.mkdir(exist_ok=True)
            self._repair(done, torn, planned)
            if self.format_version >= 2 and not (self.root / CARD).exists():
                atomic_write_text(self.root / CARD, CARD_TEXT)
            self._fh = open(self.annotations, "a", encoding="utf-8")
        except OSError as e:
            raise DatasetError(f"cannot write to output folder {self.root}: {e.strerror or e}") from None
        self.done = done

    def _read_lines(self) -> tuple[list[str], int | None]:
        """The ids of the complete lines, and the length to cut a torn last line to (None: not torn)."""
        if not self.annotations.exists():
            return [], None
        raw = self.annotations.read_bytes()
        keep = raw[: raw.rfind(b"\n") + 1]
        done = []
        for lineno, line in enumerate(keep.split(b"\n")[:-1], 1):
            try:
                done.append(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError):
                raise DatasetError(f"{self.annotations}:{lineno}: corrupt annotation line; cannot resume") from None
        return done, (len(keep) if len(keep) != len(raw) else None)

    def _repair(self, done: list[str], torn: int | None, planned: Sequence[str] | None) -> None:
        """Drop a torn last line, images of planned pairs that have no line, and DiG's temporary
        files; a file the plan does not name is left alone."""
        if torn is not None:
            with open(self.annotations, "r+b") as f:
                f.truncate(torn)
        kept = set(done)
        for p in self.images.iterdir():
            temp = temp_target(p.name)
            pair = pair_of_image(temp or p.name)
            if planned is None or pair not in planned or (temp is None and pair in kept) or p.is_dir():
                continue
            p.unlink()
        for p in self.root.iterdir():
            if temp_target(p.name) in DATASET_FILES and not p.is_dir():
                p.unlink()

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(self.root / MANIFEST, dumps_json(manifest))

    def write_pair(self, record: dict[str, Any], images: dict[str, bytes]) -> None:
        """Write the images (atomically), then append the record's line (format 2: with the
        ``*_file_name`` keys added)."""
        for rel, data in images.items():
            atomic_write_bytes(self.root / rel, data)
        if self.format_version >= 2:
            record = {**record, **{fk: record[k] for k, fk in FILE_NAME_KEYS.items()}}
        try:
            self._fh.write(dumps_line(record))
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as e:  # a full disk: a torn last line, which the next run repairs
            raise OutputError(f"cannot write {self.annotations}: {e.strerror or e}") from None
        self.done.append(record["id"])

    def close(self) -> None:
        """Close the lines file and release the folder's lock."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def image_names(pair_id: str) -> tuple[str, str]:
    return f"{IMAGES}/{pair_id}_a.png", f"{IMAGES}/{pair_id}_b.png"


def pair_of_image(file_name: str) -> str | None:
    """The pair id an image file is named after (``<id>_a.png`` or ``<id>_b.png``), else None."""
    stem, ab, ext = file_name[:-6], file_name[-6:-4], file_name[-4:]
    return stem if stem and ab in ("_a", "_b") and ext == ".png" else None
