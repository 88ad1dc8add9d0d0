"""dig_core.models.vlm: model families, coordinate conventions, and what the model's real processor says about
resize, scale, image tokens, prompts and the token budget (tiny models from tests/conftest.py)."""

from __future__ import annotations

import json
import sys

import pytest
from dig_core.errors import DigError
from dig_core.models.vlm import (
    FAMILY_COORDS,
    ModelError,
    TokenBudgetError,
    VLProcessor,
    check_token_budget,
    model_family,
    resolve_coords,
)
from dig_core.task import COORDS, DigTask, DigTaskConfig

PROMPT = "Find every difference between the two images."


# -- families and coordinates (no transformers needed) --------------------------------------------------
def test_family_coords_table():
    assert FAMILY_COORDS == {"qwen2_vl": "rel1000", "qwen3_vl": "rel1000", "qwen3_vl_moe": "rel1000",
                             "qwen2_5_vl": "pixels"}
    assert set(FAMILY_COORDS.values()) <= set(COORDS)
    assert issubclass(ModelError, DigError) and issubclass(TokenBudgetError, ModelError)


@pytest.mark.parametrize(("family", "explicit", "expected"), [
    ("qwen2_5_vl", None, "pixels"),
    ("qwen3_vl", None, "rel1000"),
    ("qwen2_vl", None, "rel1000"),
    ("qwen3_vl_moe", None, "rel1000"),
    ("qwen2_5_vl", "rel1000", "rel1000"),  # explicit wins
    ("qwen3_vl", "pixels", "pixels"),
    ("llava", "rel1", "rel1"),  # an unknown family is fine when set explicitly
    (None, "pixels", "pixels"),
])
def test_resolve_coords(family, explicit, expected):
    assert resolve_coords(family, explicit) == expected


def test_resolve_coords_errors():
    with pytest.raises(ModelError) as e:
        resolve_coords("llava", None)
    msg = str(e.value)
    assert "'llava'" in msg and "set coords explicitly" in msg
    for family in FAMILY_COORDS:
        assert family in msg
    for c in COORDS:
        assert repr(c) in msg
    with pytest.raises(ModelError, match="None"):
        resolve_coords(None, None)
    with pytest.raises(ModelError, match=r"coords: unknown convention 'percent'; allowed: \['pixels', 'rel1000', 'rel1'\]"):
        resolve_coords("qwen3_vl", "percent")


def test_model_family_errors(tmp_path):
    with pytest.raises(ModelError, match=f"model folder not found: {tmp_path / 'nope'}"):
        model_family(tmp_path / "nope")
    with pytest.raises(ModelError, match="config.json: not found"):
        model_family(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="config.json: not valid JSON"):
        model_family(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(ModelError, match="has no 'model_type'"):
        model_family(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    assert model_family(tmp_path) == "qwen2_5_vl"


def test_unknown_family_needs_coords_before_loading_anything(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(ModelError, match="set coords explicitly"):
        VLProcessor(tmp_path)


def test_missing_transformers_names_the_extra(tiny_qwen3_vl, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(DigError, match=r"pip install 'dig-core\[hf\]'"):
        VLProcessor(tiny_qwen3_vl)


# -- the real processor ----------------------------------------------------------------------------------
@pytest.fixture(params=["qwen2_5_vl", "qwen3_vl"])
def tiny(request):
    name = {"qwen2_5_vl": "tiny_qwen25_vl", "qwen3_vl": "tiny_qwen3_vl"}[request.param]
    return request.param, request.getfixturevalue(name)


def _image(width, height, path=None):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), (128, 128, 128))
    ImageDraw.Draw(im).ellipse([width // 4, height // 4, width // 2, height // 2], fill=(200, 30, 30))
    if path is not None:
        im.save(path)
    return im


@pytest.mark.parametrize("size", [(96, 64), (480, 320), (333, 101), (50, 600)])
def test_resized_size_is_what_the_processor_feeds_the_model(tiny, size):
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    family, path = tiny
    v = VLProcessor(path)
    assert v.family == family and v.coords == FAMILY_COORDS[family]
    w, h = size
    rw, rh = v.resized_size(w, h)
    patch = {"qwen2_5_vl": 14, "qwen3_vl": 16}[family]
    assert v.patch_size == patch and v.merge_size == 2
    assert rw % (2 * patch) == 0 and rh % (2 * patch) == 0
    assert v.min_pixels <= rw * rh <= v.max_pixels
    # independent 1: the full processor on a real (non-blank) image gives the same grid, and the
    # pixel values it hands the model hold exactly that many patches
    out = v.processor(text=[v.chat_prompt("x", 1)], images=[_image(w, h)], return_tensors="np")
    t, gh, gw = (int(x) for x in out["image_grid_thw"][0])
    assert (gw * patch, gh * patch) == (rw, rh)
    assert out["pixel_values"].shape[0] == t * gh * gw
    assert v.image_tokens(w, h) == t * gh * gw // 4 == int((out["input_ids"][0] == v.processor.image_token_id).sum())
    # independent 2: transformers' own resize rule with the folder's min/max pixels
    assert smart_resize(h, w, factor=2 * patch, min_pixels=v.min_pixels, max_pixels=v.max_pixels) == (rh, rw)


def test_min_and_max_pixels_move_the_resize(tiny):
    _, path = tiny
    base = VLProcessor(path)
    f = base.patch_size * base.merge_size
    small = VLProcessor(path, max_pixels=16 * f * f)
    large = VLProcessor(path, min_pixels=400 * f * f, max_pixels=1000 * f * f)
    assert small.max_pixels == 16 * f * f and large.min_pixels == 400 * f * f
    w, h = 480, 320
    sw, sh = small.resized_size(w, h)
    bw, bh = base.resized_size(w, h)
    lw, lh = large.resized_size(w, h)
    assert sw * sh <= 16 * f * f < bw * bh < 400 * f * f <= lw * lh
    assert small.image_tokens(w, h) <= 16 < base.image_tokens(w, h) < large.image_tokens(w, h)
    # the model's own folder is not changed by an override
    assert VLProcessor(path).resized_size(w, h) == (bw, bh)
    with pytest.raises(ModelError, match="min_pixels .* must not exceed max_pixels"):
        VLProcessor(path, min_pixels=10 * f * f, max_pixels=f * f)
    with pytest.raises(ModelError, match="max_pixels must be a positive integer"):
        VLProcessor(path, max_pixels=0)


def test_scale_follows_family_and_coords(tiny_qwen25_vl, tiny_qwen3_vl):
    w, h = 480, 320
    q25 = VLProcessor(tiny_qwen25_vl)
    rw, rh = q25.resized_size(w, h)
    assert (rw, rh) != (w, h)  # 480x320 is not a multiple of 28: the scale matters
    assert q25.scale(w, h) == (rw / w, rh / h)
    assert q25.prompt_size(w, h) == (rw, rh)
    # the scale is what DigTask.parse takes: a box in resized pixels comes back in original pixels
    task = DigTask(DigTaskConfig(coords="pixels"))
    gt = [48.0, 32.0, 240.0, 160.0]
    sx, sy = q25.scale(w, h)
    answer = f"[[{gt[0] * sx:.3f}, {gt[1] * sy:.3f}, {gt[2] * sx:.3f}, {gt[3] * sy:.3f}]]"
    assert task.parse(answer, w, h, q25.scale(w, h))[0] == pytest.approx(tuple(gt), abs=1e-2)
    # no scale where the model answers relative coordinates, or is told to
    assert VLProcessor(tiny_qwen25_vl, coords="rel1000").scale(w, h) is None
    q3 = VLProcessor(tiny_qwen3_vl)
    assert q3.scale(w, h) is None and q3.prompt_size(w, h) == (w, h)
    assert VLProcessor(tiny_qwen3_vl, coords="pixels").scale(w, h) is None


def test_chat_prompt_puts_images_first_and_ends_with_the_marker(tiny):
    family, path = tiny
    v = VLProcessor(path)
    prompt = v.chat_prompt(PROMPT, 2)
    assert prompt.count("<|vision_start|><|image_pad|><|vision_end|>") == 2
    assert prompt.rindex("<|image_pad|>") < prompt.index(PROMPT)
    assert v.assistant_marker() == "<|im_start|>assistant\n"
    assert prompt.endswith(PROMPT + "<|im_end|>\n" + v.assistant_marker())
    assert ("You are a helpful assistant." in prompt) == (family == "qwen2_5_vl")


def test_prompt_opens_think_is_read_from_the_template(tiny, tmp_path):
    from dig_core.config import load_config
    from dig_core.training.labels import Label
    from dig_core.training.reward_log import SampleScorer

    from tests.helpers import thinking_copy

    _, path = tiny
    assert not VLProcessor(path).prompt_opens_think  # Instruct-style templates
    thinking = VLProcessor(thinking_copy(path, tmp_path / "thinking"))
    assert thinking.prompt_opens_think and thinking.chat_prompt("q", 0).endswith("<think>\n")
    # the scorer every trainer uses takes the setting: a thought never closed is no answer
    cfg = load_config(None, [], sections=("task", "reward"))
    label = Label("p", "dig-1", 1, ((10.0, 10.0, 30.0, 20.0),), 64.0, 48.0, "pixels", (1.0, 1.0))
    text = "first [10, 10, 30, 20] then"
    assert SampleScorer(cfg).score_sample(text, label)["format"] == 1.0
    assert SampleScorer(cfg, prompt_opens_think=thinking.prompt_opens_think).score_sample(text, label)["format"] == 0.0


def test_assistant_marker_is_read_from_the_template(tiny_qwen3_vl):
    v = VLProcessor(tiny_qwen3_vl)
    v.processor.chat_template = (
        "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}<|eot_id|>"
        "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
    assert v.assistant_marker() == "<|start_header_id|>assistant<|end_header_id|>\n\n"
    broken = VLProcessor(tiny_qwen3_vl)
    broken.processor.chat_template = "{% for m in messages %}{{ m['role'] }}{% endfor %}"
    with pytest.raises(ModelError, match="assistant marker"):
        broken.assistant_marker()


def test_prompt_tokens_match_the_processor(tiny, tmp_path):
    _, path = tiny
    v = VLProcessor(path)
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    images = [_image(480, 320, paths[0]), _image(200, 150, paths[1])]
    n = v.prompt_tokens(PROMPT, images)
    out = v.processor(text=[v.chat_prompt(PROMPT, 2)], images=images)
    assert n == len(out["input_ids"][0])
    # the same count another way: the text's tokens, each image placeholder expanded to its tokens
    text_ids = v.tokenizer(v.chat_prompt(PROMPT, 2))["input_ids"]
    assert n == len(text_ids) - 2 + v.image_tokens(480, 320) + v.image_tokens(200, 150)
    assert v.prompt_tokens(PROMPT, [str(p) for p in paths]) == n
    assert v.prompt_tokens(PROMPT, []) == len(v.tokenizer(v.chat_prompt(PROMPT, 0))["input_ids"])
    with pytest.raises(ModelError, match="image not found"):
        v.prompt_tokens(PROMPT, [tmp_path / "missing.png"])


def test_token_budget(tiny):
    _, path = tiny
    v = VLProcessor(path)
    images = [_image(480, 320), _image(480, 320)]
    total = v.prompt_tokens(PROMPT, images)
    n_image = 2 * v.image_tokens(480, 320)
    count = check_token_budget(v, PROMPT, images, max_len=total + 64, max_new_tokens=64)
    assert (count.total, count.image_tokens, count.text_tokens, count.budget) == (total, n_image, total - n_image, total)
    with pytest.raises(TokenBudgetError) as e:
        check_token_budget(v, PROMPT, images, max_len=total + 63, max_new_tokens=64, where="dig-1-00003")
    msg = str(e.value)
    assert msg.startswith("dig-1-00003: ")
    for part in (f"needs {total} tokens", f"{n_image} image tokens", f"{total - n_image} text tokens",
                 "2 image(s) of 480x320, 480x320", f"max_pixels={v.max_pixels}",
                 f"= {total + 63} - 64 = {total - 1}", "lower max_pixels", f"raise max_len to at least {total + 64}",
                 f"lower max_new_tokens to at most {total + 63 - total}"):
        assert part in msg, (part, msg)
    assert isinstance(e.value, DigError)
    with pytest.raises(TokenBudgetError, match=r"max_len \(64\) must exceed max_new_tokens \(64\)"):
        check_token_budget(v, PROMPT, images, max_len=64, max_new_tokens=64)


def test_token_budget_suggestion_fits(tiny):
    import re

    _, path = tiny
    v = VLProcessor(path)
    images = [_image(480, 320), _image(480, 320)]
    max_len, max_new = 200, 64
    with pytest.raises(TokenBudgetError) as e:
        check_token_budget(v, PROMPT, images, max_len=max_len, max_new_tokens=max_new)
    suggested = int(re.search(r"lower max_pixels to (\d+) or less", str(e.value)).group(1))
    fitted = VLProcessor(path, max_pixels=suggested)
    count = check_token_budget(fitted, PROMPT, images, max_len=max_len, max_new_tokens=max_new)
    assert count.total <= max_len - max_new


def test_the_old_import_path_is_the_same_module():
    import dig_core.models.vlm
    import dig_core.vlm

    assert dig_core.vlm is dig_core.models.vlm
    from dig_core.vlm import VLProcessor  # noqa: F401 - what third-party code imports
