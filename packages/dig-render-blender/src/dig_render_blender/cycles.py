"""What the Blender-based renderers share: Cycles settings and their checks (``CyclesConfig``), the
private temp folders for pass files (and removing those a killed process left), ``import bpy`` that
also works in spawned workers, silencing Blender's stdout, and the sRGB conversions. The ``blender``
renderer (:mod:`dig_render_blender.renderer`) and dig-render-kubric build on it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class CyclesConfig:
    """Cycles settings and scene look shared by the Blender-based renderers (``blender``, and
    ``kubric`` through :mod:`dig_render_kubric`): the same values give the same look in both."""

    samples: int = 16  # Cycles samples per pixel (path tracing)
    denoise: bool = True  # OpenImageDenoise on the final image (albedo + normal guided)
    threads: int = 0  # CPU threads for Cycles; 0 = what setup() gives (else the CPU count)
    seed_from_scene: bool = True  # Cycles seed = scene.seed; False = always `seed`
    seed: int = 0  # the fixed Cycles seed when seed_from_scene is false
    max_bounces: int = 4  # total light bounces (CLEVR needs a few for metal inter-reflections)
    diffuse_bounces: int = 2
    glossy_bounces: int = 4
    filter_width: float = 1.5  # pixel filter (Blackman-Harris) width in pixels, Cycles' default
    ground_color: float = 0.5  # linear gray of the ground plane (and, dimmed, the world)
    ground_roughness: float = 0.35
    world_strength: float = 0.35  # ambient light from a uniform gray world
    mesh_detail: int = 64  # segments of generated spheres and cylinders
    quiet: bool = True  # silence Blender's per-sample progress lines on stdout (4.5 prints them)
    temp_dir: str = ""  # where pass files are written; "" = /dev/shm if present, else the system temp


def private_temp_dir(cfg: CyclesConfig, prefix: str, owner: object) -> tuple[str, weakref.finalize]:
    """A new folder for a renderer's pass files: under ``cfg.temp_dir``, else /dev/shm when present
    (RAM), else the system temp; and the finalizer that removes it. The renderer calls that in
    ``close()``; otherwise it runs when ``owner`` is garbage-collected or the interpreter exits.
    The folder is named ``<prefix><pid>-<random>``: folders of this user left there by a process
    that is gone (killed with -9) are removed first (:func:`remove_orphan_temp_dirs`)."""
    base = cfg.temp_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
    remove_orphan_temp_dirs(base, prefix)
    path = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base)
    return path, weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_orphan_temp_dirs(base: str, prefix: str) -> list[str]:
    """Remove the ``<prefix><pid>-*`` folders under ``base`` that belong to this user and whose
    process no longer runs; return their paths. Folders of running processes (and a PID reused
    by another running process) are kept."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)-")
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        try:
            if not m or not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not _alive(int(m.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def cycles_config_errors(cfg: CyclesConfig) -> list[str]:
    """The checks of :class:`CyclesConfig`'s fields, one message per problem."""
    errors: list[str] = []
    if cfg.samples < 1:
        errors.append(f"samples must be >= 1, got {cfg.samples}")
    if cfg.threads < 0:
        errors.append(f"threads must be >= 0 (0 = from setup), got {cfg.threads}")
    for key in ("max_bounces", "diffuse_bounces", "glossy_bounces"):
        if getattr(cfg, key) < 0:
            errors.append(f"{key} must be >= 0, got {getattr(cfg, key)}")
    if not 0.01 <= cfg.filter_width <= 10:
        errors.append(f"filter_width must be in [0.01, 10] pixels, got {cfg.filter_width}")
    if not 0 <= cfg.ground_color <= 1:
        errors.append(f"ground_color must be a linear gray in [0, 1], got {cfg.ground_color}")
    if not 0 <= cfg.ground_roughness <= 1:
        errors.append(f"ground_roughness must be in [0, 1], got {cfg.ground_roughness}")
    if cfg.world_strength < 0:
        errors.append(f"world_strength must be >= 0, got {cfg.world_strength}")
    if cfg.mesh_detail < 8:
        errors.append(f"mesh_detail must be >= 8, got {cfg.mesh_detail}")
    if not 0 <= cfg.seed < 2**31:
        errors.append(f"seed must be in [0, 2^31), got {cfg.seed}")
    return errors


def srgb_to_linear(c: float) -> float:
    """An sRGB component 0-255 as linear 0-1 (vocabulary colors -> Blender/Kubric material colors)."""
    c = c / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def linear_to_srgb8(rgb: np.ndarray) -> np.ndarray:
    """Linear Rec.709 floats -> sRGB uint8 (Blender's "Standard" view transform, no dither)."""
    x = np.clip(rgb, 0.0, 1.0)
    s = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    return np.clip(np.rint(s * 255.0), 0, 255).astype(np.uint8)


_BLENDER_SCRIPTS = re.compile(r"[/\\](bpy|blender)[/\\]\d+\.\d+[/\\]scripts([/\\]|$)")


def import_bpy() -> Any:
    """``import bpy``, also in a process spawned by one that had imported it.

    ``import bpy`` puts Blender's ``<version>/scripts/modules`` (holding a pure-Python ``bpy``
    package) on ``sys.path``, and multiprocessing's spawn copies the parent's ``sys.path`` into the
    child, where ``import bpy`` then finds that package first and fails (``No module named
    '_bpy'``). Dropping those folders before the first import fixes it; bpy adds them back.
    """
    if "bpy" not in sys.modules:
        sys.path[:] = [p for p in sys.path if not _BLENDER_SCRIPTS.search(p)]
    import bpy

    return bpy


@contextlib.contextmanager
def quiet_stdout(quiet: bool):
    """Send file descriptor 1 to /dev/null while Blender renders (its progress goes to C stdout)."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def one_sample(scene: Any, bounces: bool = True):
    """Cycles on ``scene`` (a bpy scene) at 1 sample, no denoising (and no bounces unless
    ``bounces``) and without persistent data while inside; the settings are restored after. The
    cheap renders of both renderers (previews, one object alone) run under it: render settings
    changed under persistent data leave Cycles' kept state inconsistent - Blender 5.0 corrupted its
    heap (Kubric aborted), and a following full render gave other pixels now and then."""
    c, r = scene.cycles, scene.render
    saved = {k: getattr(c, k) for k in ("samples", "use_denoising", "max_bounces")}
    persistent = r.use_persistent_data
    try:
        r.use_persistent_data = False
        c.samples, c.use_denoising = 1, False
        if not bounces:
            c.max_bounces = 0
        yield
    finally:
        for k, v in saved.items():
            setattr(c, k, v)
        r.use_persistent_data = persistent


@contextlib.contextmanager
def each_alone(objs: dict[int, Any], object_ids: list[int]) -> Iterator[Iterator[int]]:
    """``render_alone``'s loop in both renderers: inside, an iterator over ``object_ids`` that hides
    every other object of ``objs`` (id -> Blender object) from render before yielding each; every
    object is shown again on leaving (also on an error). ValueError naming the ids not in ``objs``,
    before anything is hidden."""
    missing = [oid for oid in object_ids if oid not in objs]
    if missing:
        raise ValueError(f"render_alone: objects {missing} are not in the scene (ids {sorted(objs)})")

    def one_by_one() -> Iterator[int]:
        for oid in object_ids:
            for other, obj in objs.items():
                obj.hide_render = other != oid
            yield oid

    try:
        yield one_by_one()
    finally:
        for obj in objs.values():
            obj.hide_render = False
