"""Kubric renders the same specs as the Blender renderer: same visible boxes, exact instance maps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dig_core.config import SceneConfig
from dig_core.render import mask_box
from dig_core.sampling import sample_scene
from omegaconf import OmegaConf

from tests.render_blender.scenes import VOCAB, base_scene, obj
from tests.render_kubric.conftest import needs_kubric

pytestmark = [pytest.mark.render, needs_kubric]

W, H = 96, 64


def box_iou(a: list[int], b: list[int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def scenes() -> list:
    """The fixed six-object scene plus sampled CLEVR scenes (jittered camera and lights)."""
    cfg = OmegaConf.structured(SceneConfig(width=W, height=H, min_objects=4, max_objects=8))
    return [base_scene(W, H)] + [sample_scene(cfg, VOCAB, seed) for seed in (1, 2, 3)]


@pytest.fixture(scope="module")
def both():
    """Every scene rendered by the Blender plugin (closed first), then by Kubric in the same process."""
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    specs = scenes()
    b = BlenderRenderer(BlenderConfig(samples=4))
    b.setup(VOCAB, 2)
    blender = [b.render(s) for s in specs]
    b.close()
    k = KubricRenderer(KubricConfig(samples=4))
    k.setup(VOCAB, 2)
    kubric = [k.render(s) for s in specs]
    yield specs, blender, kubric, k
    k.close()


def test_visible_boxes_agree_with_blender(both):
    specs, blender, kubric, _ = both
    compared = 0
    for spec, rb, rk in zip(specs, blender, kubric):
        for o in spec.objects:
            bb, kb = mask_box(rb.mask(o.id)), mask_box(rk.mask(o.id))
            if bb is None or kb is None:
                continue  # hidden in one renderer: nothing to compare
            compared += 1
            assert box_iou(bb, kb) >= 0.9, (spec.seed, o, bb, kb)
    assert compared >= 15


def test_images_look_alike(both):
    specs, blender, kubric, _ = both
    for rb, rk in zip(blender, kubric):
        assert rk.image.shape == (H, W, 3) and rk.image.dtype == np.uint8
        diff = np.abs(rb.image.astype(int) - rk.image.astype(int)).mean()
        assert diff < 4, diff  # same camera, lights, materials; only the meshes' tessellation differs
        # same Cycles seed and first camera sample: the instance maps differ only on a few silhouette pixels
        assert (rb.instances == rk.instances).mean() >= 0.999


def test_instance_map_is_exact(both):
    specs, _, kubric, _ = both
    for spec, rk in zip(specs, kubric):
        assert rk.instances.dtype == np.int32 and rk.instances.shape == (H, W)
        ids = set(np.unique(rk.instances).tolist())
        assert 0 in ids and ids <= {0} | {o.id + 1 for o in spec.objects}
        assert len(ids) >= 4  # background/floor and several objects


def test_pair_edits_sync_like_a_fresh_scene(both):
    """Rendering B after A (Kubric traits changed in place) gives B's own instance map."""
    specs, _, _, k = both
    a = base_scene(W, H)
    b = a.with_object(a.object(0).replace(shape="sphere", color="blue",
                                          position=[0.0, 0.0, VOCAB.rest_height("sphere", "large")]))
    b = b.without_object(3).with_object(obj(9, "cube", "metal", "gray", "small", -0.5, -2.5, 45.0))
    ra, rb = k.render_pair(a, b)
    assert set(np.unique(rb.instances).tolist()) <= {0} | {o.id + 1 for o in b.objects}
    assert not rb.mask(3).any() and rb.mask(3 - 3).sum() != ra.mask(0).sum() and rb.mask(9).sum() > 10
    again = k.render(b)
    assert np.array_equal(again.instances, rb.instances)
    k.render(a)
    assert np.array_equal(k.render(a).instances, ra.instances)


def test_render_alone_covers_the_visible_mask(both):
    specs, _, kubric, k = both
    spec, res = specs[0], kubric[0]
    k.render(spec)
    alone = k.render_alone(spec, [0, 1])
    for oid in (0, 1):
        visible = res.mask(oid)
        assert alone[oid].sum() >= visible.sum() > 0
        assert (alone[oid] & visible).sum() >= 0.95 * visible.sum()


def test_screening_instance_maps_equal_the_full_render(both):
    """render_preview (dig generate's screening render) gives render()'s instance map and leaves
    the full render's Cycles settings as they were."""
    specs, _, kubric, k = both
    c = k._view.blender_scene.cycles
    settings = (c.samples, c.use_denoising, c.max_bounces)
    for spec, res in zip(specs, kubric):
        assert np.array_equal(k.render_preview(spec).instances, res.instances)
    assert (c.samples, c.use_denoising, c.max_bounces) == settings


def test_unknown_shape_is_a_clear_error(kubric_renderer):
    bad = base_scene(W, H)
    bad.objects[0] = bad.objects[0].replace(shape="cone")
    with pytest.raises(ValueError, match=r"object 0: unknown shape 'cone'; allowed: \['cube', 'cylinder', 'sphere'\]"):
        kubric_renderer.render(bad)


def test_info_names_versions(kubric_renderer):
    import bpy

    info = kubric_renderer.info()
    assert info["name"] == "kubric" and info["kubric"] == "2023.12.27" and info["blender"] == bpy.app.version_string
    assert info["pybullet"] and "cryptomatte" in info["instance_map"] and info["settings"]["physics"] is False


def test_b_after_a_equals_a_fresh_render_of_b(both):
    """Incremental sync (trait changes, swaps, adds, removes, light and camera moves) = a fresh scene."""
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    specs, _, _, k = both
    a = specs[1]
    b = a.copy()
    b.objects[0] = b.objects[0].replace(shape="cylinder", size="small", color="yellow", material="metal")
    b.objects[0].position[2] = VOCAB.rest_height("cylinder", "small")
    b.objects[1] = b.objects[1].replace(rotation=(b.objects[1].rotation + 40) % 360)
    b = b.without_object(b.objects[2].id).with_object(obj(20, "sphere", "rubber", "cyan", "small", -2.6, 2.6))
    b.lights[0].energy *= 0.5
    b.camera.location[2] += 0.3
    _, rb = k.render_pair(a, b)
    fresh = KubricRenderer(KubricConfig(samples=4))  # resets Blender: `k` rebuilds on its next render
    fresh.setup(VOCAB, 2)
    rf = fresh.render(b)
    fresh.close()
    assert np.array_equal(rf.instances, rb.instances)
    assert np.abs(rf.image.astype(int) - rb.image.astype(int)).max() <= 1
    assert np.array_equal(k.render(b).instances, rb.instances)  # the old renderer rebuilt its scene


def test_exr_without_cryptomatte_is_a_clear_error():
    from dig_render_kubric.blender_view import exr_layers

    chans = {f"ViewLayer.Combined.{c}": np.zeros((2, 3), np.float32) for c in "RGBA"}
    with pytest.raises(RuntimeError, match="no Cryptomatte pass of view layer 'AuxOutputs'; channels: "):
        exr_layers(chans, "ViewLayer")
    with pytest.raises(RuntimeError, match="no Combined pass of view layer 'Main'"):
        exr_layers(chans, "Main")



def test_the_pass_folder_is_removed_on_close(tmp_path):
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    r = KubricRenderer(KubricConfig(samples=1, denoise=False, temp_dir=str(tmp_path)))
    r.setup(VOCAB, 1)
    r.render(base_scene(32, 24))
    assert len(list(tmp_path.iterdir())) == 1  # its private folder (cylinder mesh, pass files)
    r.close()
    assert list(tmp_path.iterdir()) == []


def test_the_pass_folder_is_removed_at_exit_without_close(tmp_path):
    # the process's Blender session keeps the renderer alive, so its folder goes at interpreter exit
    code = ("import sys; from dig_render_kubric.renderer import KubricConfig, KubricRenderer; "
            "from tests.render_blender.scenes import VOCAB, base_scene; "
            "r = KubricRenderer(KubricConfig(samples=1, denoise=False, temp_dir=sys.argv[1])); "
            "r.setup(VOCAB, 1); r.render(base_scene(32, 24)); import os; print(len(os.listdir(sys.argv[1])))")
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "1" and list(tmp_path.iterdir()) == []
