"""Benchmark data in its published Hugging Face layout: parquet files, images as ``{bytes, path}``
structs (the ``datasets`` ``Image`` feature), base64 strings (HR-Bench) or file names beside the data
(VSR's ``.jsonl`` + COCO images).

Images are not decoded up front: a :class:`LazyImage` remembers file, row group and row and reads its
row group when the adapter asks for the picture (one row group is cached, so a run in file order reads
each group once). A missing file, a missing column or a column of the wrong kind raises
:class:`BenchmarkDataError` naming the benchmark, the path and the expected layout.
"""

from __future__ import annotations

import base64
import glob
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dig_core.errors import DigError

#: column kinds a layout can require: what the file must hold
KINDS = ("string", "int", "number", "list", "image", "any")


class BenchmarkDataError(DigError):
    """A benchmark's data file is missing, unreadable or not in the published layout."""


@dataclass(frozen=True)
class Layout:
    """The published layout of one benchmark: its columns (name -> kind) and how files are named."""

    benchmark: str
    columns: dict[str, str]
    #: where the files come from and how they are named, for messages (e.g. "lmms-lab/POPE data/test-*.parquet")
    source: str
    #: optional columns that are read when present
    optional: tuple[str, ...] = ()

    def describe(self) -> str:
        cols = ", ".join(f"{c} ({_KIND_TEXT[k]})" for c, k in self.columns.items())
        return f"{self.source} with columns {cols}"

    def error(self, path: Any, problem: str) -> BenchmarkDataError:
        return BenchmarkDataError(f"{self.benchmark}: {path}: {problem}; expected the published layout: "
                                  f"{self.describe()}")


_KIND_TEXT = {"string": "string", "int": "integer", "number": "number", "list": "list",
              "image": "image: {bytes, path} struct, binary or base64 string", "any": "any"}


# -- locating files ------------------------------------------------------------------------------------
def _expand(path: str) -> list[Path]:
    if any(ch in path for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(str(Path(path).expanduser()), recursive=True))
    return [Path(path).expanduser()]


def split_files(layout: Layout, path: str, patterns: dict[str, Sequence[str]], splits: Sequence[str],
                required: bool) -> dict[str, list[Path]]:
    """Files of each split. ``path`` is a folder (searched recursively with the split's glob
    ``patterns``), one file, or a glob; for a file or glob the split comes from the file name
    (``val-00000-of-00001.parquet`` -> ``val``) and must be one of ``patterns``' keys.

    ``required``: the splits were asked for explicitly, so each must have files; otherwise splits
    without files are skipped (but at least one must be found)."""
    if not path:
        raise layout.error("params.path", "not set; point it at the benchmark's local data folder or file(s)")
    wanted = list(splits) or list(patterns)
    unknown = [s for s in wanted if s not in patterns]
    if unknown:
        raise BenchmarkDataError(f"{layout.benchmark}: unknown split(s) {unknown}; allowed: {list(patterns)}")
    out: dict[str, list[Path]] = {}
    candidates = _expand(path)
    if len(candidates) == 1 and candidates[0].is_dir():
        root = candidates[0]
        for split in wanted:
            found: list[Path] = []
            for pat in patterns[split]:
                found = sorted(p for p in root.glob("**/" + pat) if p.is_file())
                if found:
                    break
            if found:
                out[split] = found
            elif required:
                raise layout.error(root, f"no files for split {split!r} (looked for {list(patterns[split])})")
        if not out:
            looked = {s: list(patterns[s]) for s in wanted}
            raise layout.error(root, f"no data files found (looked for {looked})")
        return out
    files = [p for p in candidates if p.is_file()]
    if not files:
        raise layout.error(path, "not found")
    for f in files:
        split = _split_of(f.name, patterns)
        if split is None:
            raise layout.error(f, f"cannot tell the split from the file name; name files like "
                                  f"{[pats[0] for pats in patterns.values()]}")
        if split in wanted:
            out.setdefault(split, []).append(f)
    if required:
        missing = [s for s in wanted if s not in out]
        if missing:
            raise layout.error(path, f"no files for split(s) {missing}")
    if not out:
        raise layout.error(path, f"none of the files belongs to the split(s) {wanted}")
    return out


def _split_of(name: str, patterns: dict[str, Sequence[str]]) -> str | None:
    for split, pats in patterns.items():
        for pat in pats:
            if Path(name).match(pat):
                return split
    return None


# -- reading ------------------------------------------------------------------------------------------
#: what the ``data`` extra asks: pyarrow 26 needs NumPy 2, and Blender's bpy (dig-render-blender) pins
#: numpy < 2 without pip seeing a conflict; 25 works under both
PYARROW_REQUIREMENT = "pyarrow>=15,<26"


def pyarrow_error(err: BaseException, pyarrow_version: str | None, numpy_version: str) -> str:
    """The message when pyarrow does not import, naming the fix that works: a pyarrow that needs NumPy
    2 beside NumPy 1 is replaced by one that does not (installing the extra again would keep it)."""
    def major(v: str) -> int:
        head = v.split(".")[0]
        return int(head) if head.isdigit() else 0

    what = "reading benchmark parquet files needs pyarrow"
    if pyarrow_version is None:
        return f"{what} ({err}); pip install 'dig-eval[data]'"
    if major(pyarrow_version) >= 26 and major(numpy_version) < 2:
        return (f"{what}, but pyarrow {pyarrow_version} needs NumPy 2 and this environment has NumPy {numpy_version} "
                f"(bpy, Blender's module, pins numpy < 2): pip install '{PYARROW_REQUIREMENT}'")
    return f"{what}: pyarrow {pyarrow_version} is installed but does not import ({err}); pip install --force-reinstall '{PYARROW_REQUIREMENT}'"


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        import importlib.metadata as md

        import numpy

        try:
            version: str | None = md.version("pyarrow")
        except md.PackageNotFoundError:
            version = None
        raise DigError(pyarrow_error(e, version, numpy.__version__)) from None
    return pa, pq


def _kind_ok(kind: str, typ) -> bool:
    pa, _ = _pa()
    t = pa.types
    if kind == "any":
        return True
    if kind == "string":
        return t.is_string(typ) or t.is_large_string(typ) or t.is_null(typ)
    if kind == "int":
        return t.is_integer(typ) or t.is_string(typ) or t.is_large_string(typ)
    if kind == "number":
        return t.is_integer(typ) or t.is_floating(typ) or t.is_decimal(typ)
    if kind == "list":
        return t.is_list(typ) or t.is_large_list(typ) or t.is_fixed_size_list(typ)
    if kind == "image":
        if t.is_struct(typ):
            return typ.get_field_index("bytes") >= 0
        return t.is_binary(typ) or t.is_large_binary(typ) or t.is_string(typ) or t.is_large_string(typ)
    raise ValueError(kind)


def read_rows(layout: Layout, files: Iterable[Path]) -> list[dict[str, Any]]:
    """Rows of the layout's columns (plus present optional ones) from parquet or ``.jsonl`` files, in
    file order; image columns become :class:`LazyImage` (parquet) or stay file names (jsonl)."""
    rows: list[dict[str, Any]] = []
    for f in files:
        if f.suffix == ".jsonl":
            rows.extend(_read_jsonl(layout, f))
        else:
            rows.extend(_read_parquet(layout, f))
    return rows


def _read_jsonl(layout: Layout, f: Path) -> list[dict[str, Any]]:
    out = []
    try:
        text = f.read_text(encoding="utf-8")
    except OSError as e:
        raise layout.error(f, f"unreadable ({e})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise layout.error(f"{f}:{n}", f"not JSON ({e.msg})") from None
        missing = [c for c in layout.columns if c not in rec]
        if missing:
            raise layout.error(f"{f}:{n}", f"missing key(s) {missing}")
        out.append({c: rec.get(c) for c in (*layout.columns, *layout.optional) if c in rec})
    return out


def _read_parquet(layout: Layout, f: Path) -> list[dict[str, Any]]:
    pa, pq = _pa()
    try:
        pf = pq.ParquetFile(f)
        schema = pf.schema_arrow
    except (OSError, pa.ArrowException) as e:
        raise layout.error(f, f"not a readable parquet file ({e})") from None
    names = schema.names
    missing = [c for c in layout.columns if c not in names]
    if missing:
        raise layout.error(f, f"missing column(s) {missing} (the file has {names})")
    bad = [f"{c} is {schema.field(c).type}" for c, k in layout.columns.items() if not _kind_ok(k, schema.field(c).type)]
    if bad:
        raise layout.error(f, f"wrong column type(s): {', '.join(bad)}")
    image_cols = [c for c, k in layout.columns.items() if k == "image"]
    plain = [c for c in (*layout.columns, *layout.optional) if c in names and c not in image_cols]
    rows: list[dict[str, Any]] = []
    try:
        for rg in range(pf.num_row_groups):
            table = pf.read_row_group(rg, columns=plain)
            data = table.to_pylist()
            if image_cols:
                present = pf.read_row_group(rg, columns=image_cols)
                nulls = {c: present.column(c).is_null().to_pylist() for c in image_cols}
            for i, row in enumerate(data):
                for c in image_cols:
                    row[c] = None if nulls[c][i] else LazyImage(str(f), rg, i, c)
                rows.append(row)
    except (OSError, pa.ArrowException) as e:
        raise layout.error(f, f"unreadable ({e})") from None
    return rows


# -- images ----------------------------------------------------------------------------------------------
_CACHE: dict[tuple[str, int, str], list[Any]] = {}


def _row_group_images(file: str, rg: int, column: str) -> list[Any]:
    key = (file, rg, column)
    if key not in _CACHE:
        _, pq = _pa()
        _CACHE.clear()  # one row group at a time: a run in file order reads each group once
        _CACHE[key] = pq.ParquetFile(file).read_row_group(rg, columns=[column]).column(column).to_pylist()
    return _CACHE[key]


_B64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")


def image_bytes(value: Any, base: Path | None = None) -> bytes:
    """Encoded image bytes of a cell: ``{bytes, path}`` struct (bytes first, else the path relative
    to ``base``), raw bytes, or a base64 string."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        p = value.get("path")
        if p:
            q = Path(p)
            if not q.is_absolute() and base is not None:
                q = base / q
            return q.read_bytes()
        raise ValueError("image struct with neither bytes nor path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        head = value[:64]
        if _B64.match(head):
            return base64.b64decode(value)
        raise ValueError("string image that is not base64")
    raise ValueError(f"unsupported image cell of type {type(value).__name__}")


class LazyImage:
    """One image cell of a parquet file, decoded on demand. Behaves like a PIL image where the
    adapters need it (``convert``, ``size``)."""

    __slots__ = ("file", "row_group", "row", "column", "_size")

    def __init__(self, file: str, row_group: int, row: int, column: str):
        self.file, self.row_group, self.row, self.column = file, row_group, row, column
        self._size: tuple[int, int] | None = None

    def data(self) -> bytes:
        cell = _row_group_images(self.file, self.row_group, self.column)[self.row]
        try:
            return image_bytes(cell, Path(self.file).parent)
        except (ValueError, OSError) as e:
            raise BenchmarkDataError(f"{self}: unreadable image ({e})") from None

    def open(self):
        from PIL import Image, UnidentifiedImageError

        try:
            im = Image.open(io.BytesIO(self.data()))
            im.load()
        except (UnidentifiedImageError, OSError) as e:
            raise BenchmarkDataError(f"{self}: not a decodable image ({e})") from None
        self._size = im.size
        return im

    def convert(self, mode: str = "RGB"):
        return self.open().convert(mode)

    @property
    def size(self) -> tuple[int, int]:
        if self._size is None:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(self.data())) as im:  # the header only
                    self._size = im.size
            except (UnidentifiedImageError, OSError) as e:
                raise BenchmarkDataError(f"{self}: not a decodable image ({e})") from None
        return self._size

    def __repr__(self) -> str:
        return f"{self.file}[row group {self.row_group}, row {self.row}, column {self.column}]"

    __str__ = __repr__


def unique_ids(ids: Sequence[str]) -> list[str]:
    """``ids`` with repeats made unique by a ``~2``, ``~3``... suffix (stable in file order)."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        n = seen.get(i, 0) + 1
        seen[i] = n
        out.append(i if n == 1 else f"{i}~{n}")
    return out
