"""A worker spawned by a process that already imported bpy can still import it and render."""

from __future__ import annotations

import multiprocessing as mp

import pytest

pytestmark = pytest.mark.render


def _child(out) -> None:
    try:
        from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

        from tests.render_blender.scenes import VOCAB, base_scene

        r = BlenderRenderer(BlenderConfig(samples=1, denoise=False))
        r.setup(VOCAB, 1)
        res = r.render(base_scene(48, 32))
        out.put((res.image.shape, int(res.instances.max())))
        r.close()
    except BaseException as e:  # report, do not leave the parent waiting
        out.put(f"{type(e).__name__}: {e}")


def test_spawned_worker_renders():
    import bpy  # noqa: F401  the parent has Blender's script folders on sys.path now

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    p = ctx.Process(target=_child, args=(out,))
    p.start()
    try:
        got = out.get(timeout=120)
    finally:
        p.join(timeout=60)
    assert not isinstance(got, str), got
    assert p.exitcode == 0
    shape, top = got
    assert shape == (32, 48, 3) and top >= 1
