"""Files as DiG writes and reads them: atomic writes (temporary file, fsync, rename; errors that name
the path), output folders, strict JSON, and JSONL reading that names the file and line of a bad line."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dig_core.errors import DatasetError, OutputError


# -- writing --------------------------------------------------------------------------------------
def _file_mode() -> int:
    """The mode a new file gets under the process's umask (as ``open`` would give it). Read from
    /proc where it can be: setting the umask to learn it would, for that moment, give files that
    other threads create (images written in parallel) the widest modes."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            mask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place. The file gets
    the mode the umask gives any new file; a folder that is missing or not writable, a full disk
    or any other OS error raises :class:`OutputError` naming ``path`` (no temporary file is left)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(_write_problem(path, e)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _file_mode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(_write_problem(path, e)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_problem(path: Path, e: OSError) -> str:
    parent = path.parent
    if not parent.exists():
        return f"cannot write {path}: folder {parent} does not exist"
    if not parent.is_dir():
        return f"cannot write {path}: {parent} is not a folder"
    return f"cannot write {path}: {e.strerror or e}"


def ensure_folder(path: str | Path) -> Path:
    """Create the folder ``path`` (and its parents) for output; :class:`OutputError` naming it when
    that fails (a file in the way, no permission)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create folder {path}: {e.strerror or e}") from None
    return path


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


_TEMP_NAME = re.compile(r"\.(.+)\.[^.]+\.tmp")


def temp_target(name: str) -> str | None:
    """The file a temporary file of :func:`atomic_write_bytes` was to become (``.x.png.ab12.tmp`` ->
    ``x.png``); None for any other name."""
    m = _TEMP_NAME.fullmatch(name)
    return m.group(1) if m else None


def dumps_line(record: dict[str, Any]) -> str:
    """One annotation line: compact JSON, keys in the writer's order, no NaN."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"


def dumps_json(value: Any) -> str:
    """A JSON file DiG writes (manifests, reports): indented, strict (NaN and infinities raise
    ValueError rather than writing what JSON readers refuse)."""
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


# -- reading --------------------------------------------------------------------------------------
def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (DiG writes finite numbers only)")


def loads_strict(text: str) -> Any:
    """JSON as DiG writes it: NaN and Infinity (which Python's json reads) raise ValueError."""
    return json.loads(text, parse_constant=_no_constant)


def iter_jsonl(path: str | Path, error: type[Exception] = DatasetError, skip_torn_tail: bool = False,
               problems: list[str] | None = None,
               allow_nan: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a JSONL file; a line that is not a
    JSON object (bad UTF-8, bad JSON, nested too deeply, not an object; with ``allow_nan=False``
    also NaN or Infinity) raises ``error`` naming ``file:line``, or with ``problems`` given is
    appended there and skipped. ``skip_torn_tail``: a last line without its newline (a writer
    killed mid-line, or one still writing) is skipped instead."""
    kw = {} if allow_nan else {"parse_constant": _no_constant}
    try:
        f = open(path, "rb")
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror or e})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip() or (skip_torn_tail and not raw.endswith(b"\n")):
                continue
            try:
                rec = json.loads(raw.decode("utf-8"), **kw)
            except UnicodeDecodeError as e:
                msg = f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
            except json.JSONDecodeError as e:
                msg = f"{path}:{lineno}: corrupt line ({e.msg.removesuffix(' at')} at column {e.colno})"
            except RecursionError:
                msg = f"{path}:{lineno}: corrupt line (nested too deeply)"
            except ValueError as e:
                msg = f"{path}:{lineno}: corrupt line ({e})"
            else:
                if isinstance(rec, dict):
                    yield lineno, rec
                    continue
                msg = f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}"
            if problems is None:
                raise error(msg)
            problems.append(msg)
