"""A minimal reader for the OpenEXR files this plugin asks Blender to write.

Blender writes the render's passes (Combined, Object Index) to an uncompressed multilayer EXR;
reading it here needs no compositor, no extra dependency and no per-pixel Python. Supported:
scanline images, single-part (Blender 4.x) or multi-part (Blender 5.x), compression NONE, channel
types HALF / FLOAT / UINT. Anything else raises :class:`ExrError` naming what was found.

Rows come back top-first (EXR's y grows downwards, unlike Blender's ``Image.pixels``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MAGIC = 20000630
_FLAG_TILED, _FLAG_NONIMAGE, _FLAG_MULTIPART = 0x200, 0x800, 0x1000
_DTYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_COMPRESSION = {0: "NONE", 1: "RLE", 2: "ZIPS", 3: "ZIP", 4: "PIZ", 5: "PXR24", 6: "B44", 7: "B44A", 8: "DWAA", 9: "DWAB"}


class ExrError(ValueError):
    """The file is not an EXR this reader supports."""


def _cstr(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode("latin-1"), end + 1


def _header(buf: bytes, pos: int) -> tuple[dict[str, tuple[str, bytes]], int]:
    attrs: dict[str, tuple[str, bytes]] = {}
    while True:
        name, pos = _cstr(buf, pos)
        if not name:
            return attrs, pos
        typ, pos = _cstr(buf, pos)
        (size,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        attrs[name] = (typ, buf[pos : pos + size])
        pos += size


def _channels(raw: bytes) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    pos = 0
    while True:
        name, pos = _cstr(raw, pos)
        if not name:
            return out
        ptype, _linear, xs, ys = struct.unpack_from("<iB3xii", raw, pos)
        pos += 16
        if xs != 1 or ys != 1:
            raise ExrError(f"channel {name!r} is subsampled ({xs}x{ys}); only full-resolution channels are supported")
        if ptype not in _DTYPES:
            raise ExrError(f"channel {name!r} has unknown pixel type {ptype}")
        out.append((name, ptype))


def read_exr(path: str | Path) -> dict[str, np.ndarray]:
    """All channels of the EXR at ``path`` as ``{full channel name: (H, W) array}``, rows top-first.

    Half and float channels come back as float32, uint channels as uint32.
    """
    buf = Path(path).read_bytes()
    if len(buf) < 8:
        raise ExrError(f"{path}: too short to be an EXR ({len(buf)} bytes)")
    magic, version = struct.unpack_from("<ii", buf, 0)
    if magic != MAGIC:
        raise ExrError(f"{path}: not an OpenEXR file (magic {magic:#x})")
    if version & (_FLAG_TILED | _FLAG_NONIMAGE):
        raise ExrError(f"{path}: tiled or deep EXR (flags {version:#x}); only scanline images are supported")
    multipart = bool(version & _FLAG_MULTIPART)
    pos = 8
    headers = []
    while True:
        attrs, pos = _header(buf, pos)
        headers.append(attrs)
        if not multipart:
            break
        if buf[pos] == 0:  # an empty header ends a multi-part header list
            pos += 1
            break
    parts = []
    for attrs in headers:
        comp = attrs["compression"][1][0]
        if comp != 0:
            raise ExrError(f"{path}: compression {_COMPRESSION.get(comp, comp)}; only NONE is supported")
        if "type" in attrs and attrs["type"][1].rstrip(b"\0") != b"scanlineimage":
            raise ExrError(f"{path}: part type {attrs['type'][1]!r}; only scanline images are supported")
        x0, y0, x1, y1 = struct.unpack("<iiii", attrs["dataWindow"][1])
        width, height = x1 - x0 + 1, y1 - y0 + 1
        chans = _channels(attrs["channels"][1])
        n_chunks = struct.unpack("<i", attrs["chunkCount"][1])[0] if "chunkCount" in attrs else height
        parts.append((y0, width, height, chans, n_chunks))
    tables = []
    for _y0, _w, _h, _c, n_chunks in parts:
        tables.append(np.frombuffer(buf, dtype="<u8", count=n_chunks, offset=pos))
        pos += 8 * n_chunks
    out: dict[str, np.ndarray] = {}
    for index, ((y0, width, height, chans, _n), table) in enumerate(zip(parts, tables)):
        line_dtype = np.dtype([(name, _DTYPES[ptype], (width,)) for name, ptype in chans])
        lines = np.empty(height, dtype=line_dtype)
        for offset in table:
            p = int(offset)
            if multipart:
                (part,) = struct.unpack_from("<i", buf, p)
                if part != index:
                    raise ExrError(f"{path}: chunk at {p} belongs to part {part}, expected {index}")
                p += 4
            y, size = struct.unpack_from("<ii", buf, p)
            if size != line_dtype.itemsize:
                raise ExrError(f"{path}: scanline {y} holds {size} bytes, expected {line_dtype.itemsize}")
            lines[y - y0] = np.frombuffer(buf, dtype=line_dtype, count=1, offset=p + 8)[0]
        for name, ptype in chans:
            arr = lines[name]
            out[name] = arr.astype(np.float32) if ptype != 0 else arr.astype(np.uint32)
    return out
