"""Importing Kubric on a modern Python/Blender without its heavy declared dependencies.

PyPI's ``kubric-nightly`` (2023.12.27, the newest release) declares tensorflow, tensorflow-datasets
and apache-beam[gcp], so this package does not list it: install it with ``pip install --no-deps
kubric-nightly==2023.12.27`` beside this package's own (small) dependencies.

Kubric uses tensorflow only for two file operations (``tf.io.gfile.GFile`` in ``kubric.file_io`` and
``tf.io.gfile.copy`` when saving a .blend/.bullet file or fetching an asset), which on local paths
are ``open`` and a file copy. When tensorflow is not installed, :func:`load_kubric` puts a module
named ``tensorflow`` holding exactly those two functions into ``sys.modules`` while Kubric's modules
import, and removes it again, so nothing else ever sees it. With tensorflow installed, Kubric gets
the real one.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import sys
import types
from typing import Any

from dig_core.errors import DigError

from dig_render_kubric import KUBRIC_VERSION

KUBRIC_INSTALL = f"pip install --no-deps kubric-nightly=={KUBRIC_VERSION}"

#: (module, the pip requirement that provides it) for what Kubric imports at runtime
RUNTIME_MODULES = (
    ("bpy", "bpy>=4.5,<5.1 (Python 3.11 only)"),
    ("pybullet", "pybullet"),
    ("pyquaternion", "pyquaternion"),
    ("traitlets", "traitlets"),
    ("munch", "munch"),
    ("absl.flags", "absl-py"),
    ("trimesh", "trimesh"),
    ("imageio", "imageio"),
    ("png", "pypng"),
    ("etils.epath", "etils[epath]"),
    ("sklearn.utils", "scikit-learn"),
    ("singledispatchmethod", "singledispatchmethod"),
    ("OpenEXR", "OpenEXR"),
    ("Imath", "OpenEXR"),
)


class KubricUnavailable(DigError):
    """Kubric or one of the modules it needs at runtime cannot be imported."""


def _gfile_shim() -> types.ModuleType:
    """A stand-in ``tensorflow`` module with the two local-file operations Kubric uses."""

    def copy(src: Any, dst: Any, overwrite: bool = False) -> None:
        if not overwrite and os.path.exists(str(dst)):
            raise FileExistsError(f"{dst} exists (overwrite=False)")
        shutil.copyfile(str(src), str(dst))

    def gfile_open(name: Any, mode: str = "r") -> Any:
        return open(str(name), mode)

    tf = types.ModuleType("tensorflow")
    tf.__doc__ = "dig-render-kubric's local-file stand-in for tf.io.gfile (GFile, copy); not TensorFlow"
    tf.io = types.SimpleNamespace(gfile=types.SimpleNamespace(GFile=gfile_open, copy=copy))  # type: ignore[attr-defined]
    return tf


@contextlib.contextmanager
def quiet_fd(stream: Any, quiet: bool = True):
    """Send a C-level stream (stdout/stderr) to /dev/null (Blender and PyBullet print from C)."""
    if not quiet:
        yield
        return
    stream.flush()
    fd = stream.fileno()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def missing_runtime() -> list[str]:
    """The pip requirements of Kubric's runtime modules that cannot be imported here."""
    from dig_render_blender.cycles import import_bpy

    missing: list[str] = []
    for module, requirement in RUNTIME_MODULES:
        try:
            if module == "bpy":
                import_bpy()
            else:
                with quiet_fd(sys.stdout):  # pybullet prints its build time on import
                    importlib.import_module(module)
        except ImportError as e:
            missing.append(f"{requirement} (import {module}: {e})")
    return missing


_KUBRIC: dict[str, Any] = {}


def load_kubric() -> dict[str, Any]:
    """Import Kubric, its Blender renderer and its PyBullet simulator; return them by name
    (``kb``, ``blender``, ``blender_utils``, ``pybullet``). Raises :class:`KubricUnavailable`
    naming every missing piece and how to install it."""
    if _KUBRIC:
        return _KUBRIC
    missing = missing_runtime()
    try:
        found = importlib.util.find_spec("kubric") is not None  # looks, imports nothing
    except (ImportError, ValueError):
        found = False
    if not found:
        missing.insert(0, f"kubric (install with `{KUBRIC_INSTALL}`)")
    if missing:
        raise KubricUnavailable(
            "renderer 'kubric' cannot start, missing: " + "; ".join(missing)
            + f". Install with `pip install dig-render-kubric` and `{KUBRIC_INSTALL}` (docs/render-kubric.md)")
    shim = "tensorflow" not in sys.modules and importlib.util.find_spec("tensorflow") is None
    if shim:
        sys.modules["tensorflow"] = _gfile_shim()
    try:
        import kubric as kb
        from kubric.renderer import blender, blender_utils
        from kubric.simulator import pybullet
    except ImportError as e:
        raise KubricUnavailable(f"renderer 'kubric': importing Kubric {KUBRIC_VERSION} failed ({e}); "
                                f"reinstall it with `{KUBRIC_INSTALL}`") from None
    finally:
        if shim:
            sys.modules.pop("tensorflow", None)
    _KUBRIC.update(kb=kb, blender=blender, blender_utils=blender_utils, pybullet=pybullet)
    return _KUBRIC


__all__ = ["KUBRIC_INSTALL", "KubricUnavailable", "load_kubric", "missing_runtime"]
