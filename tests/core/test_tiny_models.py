"""Tiny Qwen-VL models built locally (dig_core.models.tiny, `dig tiny-model`) and the shared test
helper that writes DiG dataset folders without Blender (tests/helpers.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from dig_core.errors import DigError

from tests.helpers import write_dig_dataset

FAMILIES = {"qwen2_5_vl": ("tiny_qwen25_vl", "Qwen2_5_VLProcessor", "Qwen2_5_VLForConditionalGeneration", 14),
            "qwen3_vl": ("tiny_qwen3_vl", "Qwen3VLProcessor", "Qwen3VLForConditionalGeneration", 16)}


@pytest.fixture(params=sorted(FAMILIES))
def tiny(request):
    family = request.param
    return family, request.getfixturevalue(FAMILIES[family][0])


def _images():
    from PIL import Image, ImageDraw

    a = Image.new("RGB", (96, 64), (128, 128, 128))
    b = a.copy()
    ImageDraw.Draw(b).rectangle([10, 10, 30, 30], fill=(220, 40, 40))
    return [a, b]


# -- the model folders ----------------------------------------------------------------------------------
def test_reloads_offline_with_auto_classes(tiny):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    family, path = tiny
    _, proc_cls, model_cls, patch = FAMILIES[family]
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    proc = AutoProcessor.from_pretrained(path, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
    assert type(proc).__name__ == proc_cls
    assert type(model).__name__ == model_cls
    assert type(proc.tokenizer).__name__ == "Qwen2Tokenizer"
    assert json.loads((path / "tokenizer_config.json").read_text())["tokenizer_class"] == "Qwen2Tokenizer"
    assert proc.image_processor.patch_size == patch
    assert model.config.vision_config.patch_size == patch
    assert model.config.model_type == family
    if family == "qwen3_vl":
        assert list(proc.image_processor.image_mean) == [0.5, 0.5, 0.5]
    # the config's token ids are the tokenizer's
    tok = proc.tokenizer
    for key, token in (("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
                       ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")):
        assert getattr(model.config, key) == tok.convert_tokens_to_ids(token)
    assert model.config.text_config.vocab_size == len(tok)
    # the config pitfalls: mrope sections cover half a head, the vision tower feeds the text width
    tc = model.config.text_config
    head_dim = getattr(tc, "head_dim", None) or tc.hidden_size // tc.num_attention_heads
    assert sum(tc.rope_parameters["mrope_section"]) == head_dim // 2
    assert model.config.vision_config.out_hidden_size == tc.hidden_size
    assert 1400 <= len(tok) <= 1600
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    # the tokenizer: Qwen's special tokens are single tokens, numbers split into digits, text round-trips
    text = "<|im_start|>user\n<think>ok</think>[[12, 345, 67, 890]]<|im_end|>"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.convert_tokens_to_ids("<|im_start|>") in ids and tok.convert_tokens_to_ids("<|im_end|>") in ids
    assert tok.tokenize("345") == ["3", "4", "5"]


def test_two_image_generate_on_cpu(tiny):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    _, path = tiny
    proc = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                             {"type": "text", "text": "Find every difference."}]}]
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.count("<|image_pad|>") == 2 and prompt.endswith("<|im_start|>assistant\n")
    inputs = proc(text=[prompt], images=_images(), return_tensors="pt")
    assert inputs["image_grid_thw"].shape == (2, 3)
    n_pad = int((inputs["input_ids"] == model.config.image_token_id).sum())
    merge = proc.image_processor.merge_size
    assert n_pad == int(inputs["image_grid_thw"].prod(dim=1).sum()) // merge ** 2
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False, min_new_tokens=8)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert len(new) == 8
    assert isinstance(proc.decode(new, skip_special_tokens=True), str)
    with torch.no_grad():  # greedy generation is reproducible
        again = model.generate(**inputs, max_new_tokens=8, do_sample=False, min_new_tokens=8)
    assert torch.equal(out, again)


def test_same_seed_same_files_other_seed_other_weights(tiny_qwen3_vl, tmp_path):
    from dig_core.models.tiny import build_tiny_vlm

    a = build_tiny_vlm("qwen3_vl", tmp_path / "a", seed=0)
    c = build_tiny_vlm("qwen3_vl", tmp_path / "c", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert (a / name).read_bytes() == (tiny_qwen3_vl / name).read_bytes(), name
    assert (a / "tokenizer.json").read_bytes() == (c / "tokenizer.json").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()


def test_build_errors_and_overwrite(tiny_qwen25_vl, tmp_path):
    from dig_core.models.tiny import build_tiny_vlm

    with pytest.raises(DigError, match=r"unknown tiny model family 'llava'; allowed: \['qwen2_5_vl', 'qwen3_vl'\]"):
        build_tiny_vlm("llava", tmp_path / "x")
    with pytest.raises(DigError, match="min_pixels"):
        build_tiny_vlm("qwen2_5_vl", tmp_path / "x", min_pixels=5000, max_pixels=4000)
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(DigError, match="exists and is not empty"):
        build_tiny_vlm("qwen2_5_vl", out)
    assert (out / "keep.txt").exists()
    build_tiny_vlm("qwen2_5_vl", out, overwrite=True, max_pixels=64 * 28 * 28)
    assert not (out / "keep.txt").exists()
    size = json.loads((out / "processor_config.json").read_text())["image_processor"]["size"]
    assert size == {"shortest_edge": 4 * 28 * 28, "longest_edge": 64 * 28 * 28}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_missing_transformers_names_the_extra(monkeypatch, tmp_path):
    from dig_core.models.tiny import build_tiny_vlm

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(DigError, match=r"pip install 'dig-core\[hf\]'"):
        build_tiny_vlm("qwen3_vl", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_dig_core_imports_without_transformers():
    code = ("import sys; sys.modules['transformers'] = None; sys.modules['torch'] = None\n"
            "import dig_core.models.vlm, dig_core.models.tiny, dig_core.cli\n"
            "dig_core.cli.load_commands()\n"
            "assert 'transformers' not in [m for m in sys.modules if sys.modules[m] is not None]")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_nano_size_is_a_few_million_parameters_with_patch_8(family, tmp_path):
    """``size="nano"``: the DiG-nano model (docs/models.md): a few million parameters, vision patch
    8, so a 192x128 image is 12x8 = 96 merged tokens; a learned 24x24 vision position grid (Qwen3-VL)
    and RoPE base 1e4; the same tokenizer and template as the test size."""
    from dig_core.models.tiny import SIZES, build_tiny_vlm
    from dig_core.models.vlm import VLProcessor
    from PIL import Image
    from transformers import AutoModelForImageTextToText

    path = build_tiny_vlm(family, tmp_path / "nano", size="nano")
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
    n = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < n < 5_000_000, n
    vc, tc = model.config.vision_config, model.config.text_config
    assert vc.patch_size == 8 and tc.hidden_size == SIZES["nano"].hidden
    assert tc.rope_parameters["rope_theta"] == 10000.0
    assert sum(tc.rope_parameters["mrope_section"]) == tc.hidden_size // tc.num_attention_heads // 2
    if family == "qwen3_vl":
        assert vc.num_position_embeddings == 24 * 24
        assert all(i < vc.depth for i in vc.deepstack_visual_indexes)
    vlp = VLProcessor(path)
    assert vlp.resized_size(192, 128) == (192, 128) and vlp.image_tokens(192, 128) == 96
    assert vlp.processor.tokenizer.tokenize("907") == ["9", "0", "7"]  # digits are single tokens
    with pytest.raises(DigError, match=r"unknown tiny model size 'huge'; allowed: \['test', 'nano'\]"):
        build_tiny_vlm(family, tmp_path / "x", size="huge")
    import torch

    enc = vlp.processor(text=[vlp.chat_prompt("Find every difference.", 2)],
                        images=[Image.new("RGB", (192, 128)), Image.new("RGB", (192, 128))], return_tensors="pt")
    with torch.no_grad():
        out = model(**enc)
    assert out.logits.shape[1] == enc["input_ids"].shape[1]


# -- dig tiny-model -----------------------------------------------------------------------------------
def _dig(*args):
    return subprocess.run([sys.executable, "-m", "dig_core", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_cli_builds_a_loadable_model(tiny_qwen25_vl, tmp_path):
    from dig_core.models.vlm import VLProcessor

    r = _dig("tiny-model", "--family", "qwen2_5_vl", "--out", str(tmp_path / "m"), "--seed", "0")
    assert r.returncode == 0, r.stderr
    assert "wrote tiny qwen2_5_vl" in r.stdout
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == (tiny_qwen25_vl / "model.safetensors").read_bytes()
    assert VLProcessor(tmp_path / "m").family == "qwen2_5_vl"
    again = _dig("tiny-model", "--family", "qwen2_5_vl", "--out", str(tmp_path / "m"))
    assert again.returncode == 1
    assert again.stderr.startswith("error: ") and "not empty" in again.stderr and "Traceback" not in again.stderr
    bad = _dig("tiny-model", "--family", "llava", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "qwen3_vl" in bad.stderr
    helped = _dig("tiny-model", "--help")
    assert helped.returncode == 0 and "--max-pixels" in helped.stdout and "dig-core[hf]" in helped.stdout
    assert "--size [test|nano]" in helped.stdout
    nano = _dig("tiny-model", "--family", "qwen3_vl", "--size", "nano", "--out", str(tmp_path / "n"))
    assert nano.returncode == 0 and "wrote tiny qwen3_vl (nano, seed 0)" in nano.stdout, nano.stderr
    assert json.loads((tmp_path / "n" / "config.json").read_text())["vision_config"]["patch_size"] == 8


# -- tests/helpers.py: write_dig_dataset ---------------------------------------------------------------
def test_write_dig_dataset_reads_back_and_passes_audit(tmp_path):
    from dig_core.audit import audit_dataset
    from dig_core.data.dataset import ANNOTATION_KEYS, FORMAT_VERSION, read_annotations, read_manifest
    from dig_core.data.pairs import load_pair

    stages = [("dig-1", 1, 1, True, 2), ("dig-2", 2, 2, True, 2), ("dig-mix", 1, 4, False, 3)]
    root = write_dig_dataset(tmp_path / "ds", size=(80, 60), seed=3, stages=stages)
    records = list(read_annotations(root))
    manifest = read_manifest(root)
    assert [r["id"] for r in records] == ["dig-1-00000", "dig-1-00001", "dig-2-00000", "dig-2-00001",
                                          "dig-mix-00000", "dig-mix-00001", "dig-mix-00002"]
    assert manifest["format_version"] == FORMAT_VERSION and manifest["status"] == "complete"
    assert manifest["seed"] == 3 and "generate" not in manifest["config"]
    assert [(s["name"], s["k_min"], s["k_max"], s["count_in_prompt"], s["pairs"])
            for s in manifest["config"]["curriculum"]["stages"]] == stages
    assert manifest["counts"]["pairs"] == 7 and manifest["counts"]["by_stage"] == {"dig-1": 2, "dig-2": 2, "dig-mix": 3}
    by_stage = {name: (lo, hi, count) for name, lo, hi, count, _ in stages}
    for rec in records:
        assert set(ANNOTATION_KEYS) <= set(rec)
        lo, hi, count = by_stage[rec["stage"]]
        assert lo <= len(rec["boxes"]) <= hi and rec["count_in_prompt"] == count
        assert [d["box"] for d in rec["differences"]] == rec["boxes"]
        assert all(d["type"] in manifest["config"]["perturbations"]["weights"] for d in rec["differences"])
        a, b = load_pair(root, rec)
        assert a.shape == b.shape == (60, 80, 3)
        outside = np.ones((60, 80), dtype=bool)
        for x0, y0, x1, y1 in rec["boxes"]:
            assert 0 <= x0 < x1 <= 80 and 0 <= y0 < y1 <= 60
            outside[y0:y1, x0:x1] = False
            assert np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).any(axis=2).all()  # every box pixel changes
        assert (a[outside] == b[outside]).all()  # and nothing else does
    assert not [r for r in audit_dataset(root, records) if r.suspicious]


def _lines(root):
    """The dataset's lines file (metadata.jsonl in format 2, annotations.jsonl in format 1)."""
    return next(root / name for name in ("metadata.jsonl", "annotations.jsonl") if (root / name).exists())


def test_write_dig_dataset_is_deterministic_and_scores(tmp_path):
    from dig_core.data.dataset import read_annotations
    from dig_core.reward import DigReward
    from dig_core.task import DigTask

    a = write_dig_dataset(tmp_path / "a", n=3, k=2)
    b = write_dig_dataset(tmp_path / "b", n=3, k=2)
    c = write_dig_dataset(tmp_path / "c", n=3, k=2, seed=1)
    assert _lines(a).read_bytes() == _lines(b).read_bytes()
    assert _lines(a).read_bytes() != _lines(c).read_bytes()
    for rec in read_annotations(a):
        assert rec["stage"] == "dig-1" and len(rec["boxes"]) == 2 and (rec["width"], rec["height"]) == (96, 64)
        assert (a / rec["image_b"]).read_bytes() == (b / rec["image_b"]).read_bytes()
    # the ideal answer scores 1 through dig-core's task and reward
    task, reward = DigTask(), DigReward()
    rec = read_annotations(a)[0]
    answer = task.format_boxes(rec["boxes"], rec["width"], rec["height"])
    result = reward.score(task.parse(answer, rec["width"], rec["height"]), rec["boxes"])
    assert result.reward == pytest.approx(1.0)
