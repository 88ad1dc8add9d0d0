"""The geometric sketch (dig_core.sketch) against Cycles' index pass on sampled scenes: per object,
visible area and box centre agree within the slack `dig generate` steers with."""

from __future__ import annotations

import numpy as np
from dig_core.config import load_config
from dig_core.difficulty import measure_difference
from dig_core.render import mask_box
from dig_core.sampling import sample_scene
from dig_core.sketch import AREA_SLACK, DIST_SLACK, sketch_instances

from tests.render_blender.scenes import VOCAB


def test_sketch_matches_the_index_pass(renderer):
    cfg = load_config(None, ["scene.width=240", "scene.height=160"], sections=())
    ratios, dists, ious = [], [], []
    for seed in range(10):
        scene = sample_scene(cfg.scene, VOCAB, seed)
        rendered, sketched = renderer.render_preview(scene).instances, sketch_instances(scene, VOCAB)
        for o in scene.objects:
            mr, ms = rendered == o.id + 1, sketched == o.id + 1
            if mr.sum() < 100:  # a sliver: its pixels are anti-aliasing
                continue
            r, s = (measure_difference(m, mask_box(m), None, None) for m in (mr, ms))
            ratios.append(s["area_share"] / r["area_share"])
            dists.append(abs(s["center_dist"] - r["center_dist"]))
            ious.append((mr & ms).sum() / (mr | ms).sum())
    ratios, dists = np.array(ratios), np.array(dists)
    assert len(ratios) > 40
    assert np.mean((ratios >= 1 / AREA_SLACK) & (ratios <= AREA_SLACK)) >= 0.95, np.percentile(ratios, [1, 5, 50, 95])
    assert np.mean(dists <= DIST_SLACK) >= 0.95 and np.median(ious) > 0.95
