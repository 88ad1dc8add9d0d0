"""`dig train trainer.name=trl` on a tiny dataset rendered for real by Blender (`dig generate`): a few
GRPO steps per curriculum stage, every reward component logged for every sample, and the trained
checkpoint loads and generates."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("bpy", reason="needs Blender (dig-render-blender) to render the dataset")
pytest.importorskip("trl", reason="trl is not installed (pip install dig-train-trl)")
pytest.importorskip("dig_train_trl")

from dig_core.data.dataset import read_annotations  # noqa: E402
from dig_core.training import REWARD_FIELDS, read_rewards  # noqa: E402

pytestmark = pytest.mark.render

RENDER = ["scene.width=96", "scene.height=64", "scene.max_objects=4", "renderer.params.samples=2",
          "renderer.params.denoise=false", "validity.min_visible_pixels=20", "validity.min_box_change=6",
          "curriculum.stages[0].pairs=2", "curriculum.stages[1].pairs=2", "curriculum.stages[2].pairs=2",
          "seed=5", "generate.progress=false", "generate.workers=1"]


def dig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dig_core", *args], capture_output=True, text=True, timeout=900)


def test_trl_trains_on_a_rendered_dataset(tiny_qwen25_vl, tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    r = dig("generate", "--out", str(data), *RENDER)
    assert r.returncode == 0, r.stderr
    pairs = list(read_annotations(data))
    assert len(pairs) == 6

    r = dig("train", "trainer.name=trl", f"trainer.params.model={tiny_qwen25_vl}", f"trainer.params.data={data}",
            f"trainer.params.run_dir={run}", "trainer.params.num_generations=4", "trainer.params.max_new_tokens=16",
            "trainer.params.max_steps=2", "trainer.params.seed=0", *RENDER[7:10])
    assert r.returncode == 0, r.stderr[-3000:]

    rewards = read_rewards(run)
    assert list(rewards) == ["dig-1", "dig-2", "dig-mix"]
    ids = {p["id"] for p in pairs}
    for stage, records in rewards.items():
        assert len(records) == 2 * 4, stage  # 2 steps x (1 prompt x G=4 completions)
        for rec in records:
            assert set(REWARD_FIELDS) <= set(rec) and rec["id"] in ids and rec["stage"] == stage
            assert 0.0 <= rec["reward"] <= 1.0

    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    ckpt = run / "dig-mix" / "checkpoint"
    processor = AutoProcessor.from_pretrained(ckpt)
    model = AutoModelForImageTextToText.from_pretrained(ckpt)
    images = [Image.open(data / pairs[0]["image_a"]), Image.open(data / pairs[0]["image_b"])]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "boxes?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=[text], images=images, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 4
