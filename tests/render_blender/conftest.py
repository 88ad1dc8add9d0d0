from __future__ import annotations

import pytest

from tests.render_blender.scenes import VOCAB


@pytest.fixture(scope="module")
def renderer():
    """One renderer per test module (as one per worker in generation): 4 spp + denoise."""
    pytest.importorskip("bpy", reason="bpy (Blender as a Python module) is not installed")
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    r = BlenderRenderer(BlenderConfig(samples=4))
    r.setup(VOCAB, 2)
    yield r
    r.close()
