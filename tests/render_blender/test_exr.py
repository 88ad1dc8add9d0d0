"""The EXR reader rejects what it cannot read, with the reason."""

from __future__ import annotations

import struct

import pytest
from dig_render_blender.exr import ExrError, read_exr


def test_not_an_exr(tmp_path):
    p = tmp_path / "x.exr"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    with pytest.raises(ExrError, match="not an OpenEXR"):
        read_exr(p)


def test_tiled_is_rejected(tmp_path):
    p = tmp_path / "t.exr"
    p.write_bytes(struct.pack("<ii", 20000630, 2 | 0x200) + b"\0" * 16)
    with pytest.raises(ExrError, match="tiled"):
        read_exr(p)


@pytest.mark.render
def test_compressed_exr_is_rejected(renderer, tmp_path):
    import bpy

    from tests.render_blender.scenes import base_scene

    renderer.render(base_scene(32, 24))
    im = renderer._scene.render.image_settings
    im.exr_codec = "ZIP"
    try:
        bpy.data.images["Render Result"].save_render(str(tmp_path / "z.exr"), scene=renderer._scene)
    finally:
        im.exr_codec = "NONE"
    with pytest.raises(ExrError, match="compression ZIP"):
        read_exr(tmp_path / "z.exr")
