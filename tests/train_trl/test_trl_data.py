"""dig_train_trl.data: the warm start's augmentations keep image, boxes and answer together."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("transformers", reason="transformers is not installed")

from dig_core.config import load_config  # noqa: E402
from dig_core.models.vlm import VLProcessor  # noqa: E402
from dig_core.training.reward_log import SampleScorer  # noqa: E402
from dig_train_trl.config import TRLConfig, validate  # noqa: E402
from dig_train_trl.data import AUGMENTATIONS, answer_task, augment, load_rows, open_images, target_answer  # noqa: E402

from tests.helpers import write_dig_dataset  # noqa: E402


def _changed_box(a: np.ndarray, b: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(np.abs(a.astype(int) - b.astype(int)).sum(axis=2))
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def test_hflip_and_swap_move_the_boxes_with_the_images(tiny_qwen3_vl, tmp_path):
    data = write_dig_dataset(tmp_path / "d", size=(64, 48), seed=5, stages=[("dig-1", 1, 1, True, 6)])
    cfg = load_config(None, [], sections=("task", "reward"))
    vlp = VLProcessor(tiny_qwen3_vl)
    task, scorer = answer_task(cfg, vlp.coords), SampleScorer(cfg)
    rng = random.Random(0)
    seen = set()
    for row in load_rows(cfg, data, vlp)["dig-1"]:
        for _ in range(8):
            aug = augment(row, list(AUGMENTATIONS), rng)
            seen.add((aug.mirrored, aug.images == row.images))
            a, b = (np.asarray(im) for im in open_images(aug))
            # the helper repaints I_b inside the difference box only: the change is where the label says
            assert _changed_box(a, b) == [round(v) for v in aug.label.boxes[0]]
            if aug.images != row.images:
                assert aug.images == row.images[::-1]
            rec = scorer.score_sample(target_answer(task, aug), aug.label.to_json())
            assert rec["f1"] == 1.0 and rec["format"] == 1.0
    assert seen == {(False, True), (False, False), (True, True), (True, False)}  # each combination drawn
    assert augment(row, [], rng) == row


def test_unknown_augmentation_lists_the_allowed_ones():
    errors = validate(TRLConfig(sft_augment=["hflip", "rotate"]))
    assert any("sft_augment: ['rotate'] not allowed" in e and "'hflip'" in e and "'swap'" in e for e in errors)
