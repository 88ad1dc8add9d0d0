"""Real Cycles renders (small images, 4 spp): images, instance maps, incremental pair updates."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from dig_core.render import RenderResult
from dig_core.spec import scene_problems
from scipy import ndimage

from tests.render_blender.scenes import VOCAB, H, W, base_scene, obj

pytestmark = pytest.mark.render


def _diff(a: RenderResult, b: RenderResult) -> np.ndarray:
    return np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).mean(axis=2)


@pytest.fixture(scope="module")
def base(renderer):
    return renderer.render(base_scene())


def test_renders_a_real_image(base):
    assert base.image.shape == (H, W, 3) and base.image.dtype == np.uint8
    assert base.instances.shape == (H, W) and base.instances.dtype == np.int32
    assert base.image.std() > 10  # not a blank frame
    ground = base.image[base.instances == 0]
    assert 60 < ground.mean() < 230  # ground neither black nor blown out


def test_instance_ids_are_the_scene_objects(base):
    scene = base_scene()
    ids = set(np.unique(base.instances).tolist())
    assert ids == {0} | {o.id + 1 for o in scene.objects}
    for o in scene.objects:
        assert base.mask(o.id).sum() >= 60, f"object {o.id} hardly visible"


def test_instance_mask_holds_that_objects_color(base):
    """Each mask's median pixel has the hue of its object's color (ids are not shuffled)."""
    scene = base_scene()
    hue = {}
    for name, rgb in VOCAB.colors.items():
        h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
        if s > 0.3:
            hue[name] = h
    for o in scene.objects:
        m = ndimage.binary_erosion(base.mask(o.id), iterations=1)
        r, g, b = np.median(base.image[m], axis=0) / 255
        h, s, _ = colorsys.rgb_to_hsv(r, g, b)
        nearest = min(hue, key=lambda n: min(abs(hue[n] - h), 1 - abs(hue[n] - h)))
        assert nearest == o.color, f"object {o.id} ({o.color}) renders with hue {h:.2f} ({nearest})"


def test_top_row_first_and_blender_color_management(renderer, base, tmp_path):
    """Our RGB equals Blender's own PNG of the same render (orientation, sRGB transform, no dither)."""
    import bpy
    from PIL import Image

    renderer.render(base_scene())  # make it the last render
    sc = renderer._scene
    im = sc.render.image_settings
    saved = (getattr(im, "media_type", None), im.file_format, im.color_depth, im.exr_codec)
    try:
        if saved[0] is not None:
            im.media_type = "IMAGE"
        im.file_format = "PNG"
        im.color_mode = "RGB"
        im.color_depth = "8"
        bpy.data.images["Render Result"].save_render(str(tmp_path / "blender.png"), scene=sc)
    finally:
        if saved[0] is not None:
            im.media_type = saved[0]
        im.file_format, im.color_depth, im.exr_codec = saved[1], saved[2], saved[3]
    png = np.asarray(Image.open(tmp_path / "blender.png").convert("RGB")).astype(np.int16)
    assert png.shape == base.image.shape
    d = np.abs(png - base.image)
    assert d.max() <= 1 and (d > 0).mean() < 0.01


@pytest.mark.parametrize("object_id", [0, 2, 4])
def test_removed_objects_mask_is_where_the_image_changes(renderer, base, object_id):
    a_scene = base_scene()
    b = renderer.render(a_scene.without_object(object_id))
    mask = base.mask(object_id)
    d = _diff(base, b)
    # the object's own pixels all change
    assert (d[mask] > 25).mean() > 0.95
    # strong changes are the object (shadows and reflections change less)
    strong = d > 40
    iou = (strong & mask).sum() / (strong | mask).sum()
    assert iou > 0.7, iou
    # far from the object almost nothing changes
    far = ~ndimage.binary_dilation(mask, iterations=20)
    assert d[far].mean() < 1.0 and np.percentile(d[far], 99) < 6
    # its id is gone, everyone else's pixels outside its footprint are unchanged
    assert not (b.instances == object_id + 1).any()
    keep = ~mask
    assert np.array_equal(b.instances[keep], base.instances[keep])


@pytest.mark.parametrize("object_id,color", [(0, "gray"), (3, "blue"), (5, "red")])
def test_color_edit_changes_pixels_only_near_that_object(renderer, base, object_id, color):
    scene = base_scene()
    edited = scene.with_object(scene.object(object_id).replace(color=color))
    b = renderer.render(edited)
    assert np.array_equal(b.instances, base.instances)  # geometry did not change
    mask = base.mask(object_id)
    d = _diff(base, b)
    changed = d > 25
    assert changed[mask].mean() > 0.7
    # strong changes elsewhere are only the object's reflection in metal objects
    near = ndimage.binary_dilation(mask, iterations=3)
    metal = np.isin(base.instances, [o.id + 1 for o in scene.objects if o.material == "metal" and o.id != object_id])
    assert (changed & ~near & ~metal).sum() <= 3
    far = ~ndimage.binary_dilation(mask | metal, iterations=20)
    assert d[far].max() < 12


def _edited_scene():
    """Every incremental path at once: remove, shape, size+material, rotation, add, light, camera."""
    s = base_scene()
    o0, o2, o4 = s.object(0), s.object(2), s.object(4)
    b = s.without_object(1)
    b = b.with_object(o0.replace(shape="sphere", position=[0.0, 0.0, VOCAB.rest_height("sphere", "large")]))
    b = b.with_object(o2.replace(size="large", material="metal", position=[1.8, -1.6, VOCAB.rest_height("cylinder", "large")]))
    b = b.with_object(o4.replace(rotation=55.0))
    b = b.with_object(obj(9, "cube", "rubber", "brown", "large", -2.3, 0.6))
    b.lights[0].energy = 300.0
    b.camera.location = [7.3, -6.7, 5.2]
    assert scene_problems(b, VOCAB) == []
    return b


def test_pair_equals_fresh_renders(renderer):
    """render_pair's incremental B equals a brand-new renderer's B (and A likewise)."""
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    a_scene, b_scene = base_scene(seed=11), _edited_scene()
    b_scene.seed = 11
    renderer.render(base_scene(seed=5).without_object(3))  # leave unrelated state behind
    pa, pb = renderer.render_pair(a_scene, b_scene)
    fresh = BlenderRenderer(BlenderConfig(samples=4))
    fresh.setup(VOCAB, 2)
    try:
        fb = fresh.render(b_scene)
        fa = fresh.render(a_scene)
    finally:
        fresh.close()
    assert np.array_equal(pb.instances, fb.instances)
    assert np.array_equal(pa.instances, fa.instances)
    assert set(np.unique(pb.instances).tolist()) == {0} | {o.id + 1 for o in b_scene.objects}
    for p, f in ((pa, fa), (pb, fb)):
        d = np.abs(p.image.astype(np.int16) - f.image.astype(np.int16))
        assert d.mean() < 0.5 and d.max() <= 8
    assert _diff(pa, pb).mean() > 2  # and the edit did show


def test_same_scene_twice_is_identical(renderer):
    s = base_scene(seed=21)
    r1 = renderer.render(s)
    renderer.render(_edited_scene())
    r2 = renderer.render(s)
    assert np.array_equal(r1.image, r2.image)
    assert np.array_equal(r1.instances, r2.instances)


def test_scene_seed_drives_the_noise(renderer):
    """Different seeds give different noise (the seed reaches Cycles even with persistent data);
    going back to a seed gives back its image exactly. Instance maps do not depend on the seed."""
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    noisy = BlenderRenderer(BlenderConfig(samples=2, denoise=False))
    noisy.setup(VOCAB, 2)
    try:
        r1 = noisy.render(base_scene(seed=1))
        r2 = noisy.render(base_scene(seed=2))
        r1b = noisy.render(base_scene(seed=1))
    finally:
        noisy.close()
    assert _diff(r1, r2).mean() > 2
    assert np.array_equal(r1.image, r1b.image)
    assert np.array_equal(r1.instances, r2.instances)


def test_resolution_comes_from_the_scene(renderer):
    small = renderer.render(base_scene(96, 64))
    assert small.image.shape == (64, 96, 3) and small.instances.shape == (64, 96)
    assert set(np.unique(small.instances).tolist()) <= {0} | {o.id + 1 for o in base_scene().objects}


def test_unknown_attribute_is_a_clear_error(renderer):
    s = base_scene()
    s.objects[0].color = "mauve"
    with pytest.raises(ValueError, match="mauve"):
        renderer.render(s)


def test_info_records_blender_and_settings(renderer):
    import bpy

    info = renderer.info()
    assert info["name"] == "blender"
    assert info["blender"] == bpy.app.version_string
    assert info["settings"]["samples"] == 4 and info["settings"]["denoise"] is True
    assert info["threads"] == 2


@pytest.mark.parametrize("closed", [True, False], ids=["close", "dropped"])
def test_the_pass_folder_is_removed_on_close_or_when_the_renderer_is_dropped(tmp_path, closed):
    import gc

    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    r = BlenderRenderer(BlenderConfig(samples=1, denoise=False, temp_dir=str(tmp_path)))
    r.setup(VOCAB, 1)
    r.render(base_scene(32, 24))
    assert len(list(tmp_path.iterdir())) == 1  # its private folder of pass files
    if closed:
        r.close()
    else:
        del r
        gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_pass_folders_of_processes_that_are_gone_are_removed(tmp_path):
    """A pass folder is named after its owner's PID; a renderer starting up removes this user's
    folders whose owner no longer runs (a worker killed with -9), and keeps the others."""
    import os
    import subprocess
    import sys

    from dig_render_blender.cycles import private_temp_dir
    from dig_render_blender.renderer import BlenderConfig

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    leftover = tmp_path / f"dig-blender-{dead_pid}-x1y2"
    (leftover / "passes").mkdir(parents=True)
    (leftover / "passes" / "a.exr").write_bytes(b"exr")
    alive = tmp_path / f"dig-blender-{os.getppid()}-x1y2"  # a process that runs: its folder is kept
    alive.mkdir()
    others = [tmp_path / f"dig-kubric-{dead_pid}-x1y2", tmp_path / "dig-blender-notapid", tmp_path / "mine"]
    for p in others:
        p.mkdir()

    class Owner:
        pass

    owner = Owner()
    path, remove = private_temp_dir(BlenderConfig(temp_dir=str(tmp_path)), "dig-blender-", owner)
    assert os.path.basename(path).startswith(f"dig-blender-{os.getpid()}-")
    assert not leftover.exists() and alive.is_dir() and all(p.is_dir() for p in others)
    remove()
    assert not os.path.exists(path)
