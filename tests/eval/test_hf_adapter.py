"""The ``hf`` adapter on tiny random Qwen2.5-VL and Qwen3-VL (built locally): ``dig eval`` end to
end, the same tokens as calling ``model.generate`` directly, left-padded batches, decoding."""

from __future__ import annotations

import json

import pytest
from dig_eval.adapters.base import Request
from dig_eval.adapters.hf import HFAdapter, HFConfig

from tests.eval.util import dig_eval, metrics
from tests.helpers import write_dig_dataset


@pytest.fixture(params=["qwen2_5_vl", "qwen3_vl"])
def tiny_model(request):
    return request.getfixturevalue("tiny_qwen25_vl" if request.param == "qwen2_5_vl" else "tiny_qwen3_vl")


def test_dig_eval_end_to_end(tmp_path, tiny_model):
    from dig_core.models.vlm import VLProcessor

    ds = write_dig_dataset(tmp_path / "ds", size=(96, 64),
                           stages=[("dig-1", 1, 1, True, 2), ("dig-mix", 1, 3, False, 2)])
    out = tmp_path / "run"
    args = ["model.name=hf", f"model.params.path={tiny_model}", "model.params.max_new_tokens=8",
            "model.params.batch_size=3", "model.params.device=cpu", "evaluator.name=dig",
            f"evaluator.params.dataset={ds}", "--out", out]
    res = dig_eval(*args)
    assert res.exit_code == 0, res.output
    assert "dig: scored 4 of 4 (0 reused, 4 generated)" in res.output and "| acc@0.5" in res.output
    vlp = VLProcessor(tiny_model)
    data = metrics(out)
    assert data["model"]["family"] == vlp.family and data["model"]["coords"] == vlp.coords
    assert data["model"]["coords"] == {"qwen2_5_vl": "pixels", "qwen3_vl": "rel1000"}[vlp.family]
    assert data["counts"]["generated"] == 4 and data["throughput"]["samples_per_s"] > 0
    assert {"f1", "miou", "acc@0.5", "acc@0.75", "acc@0.95", "format", "reward", "f1/k=1"} <= set(data["metrics"])
    preds = [json.loads(x) for x in (out / "dig" / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == ["dig-1-00000", "dig-1-00001", "dig-mix-00000", "dig-mix-00001"]
    assert all(isinstance(p["completion"], str) and "<|" not in p["completion"] for p in preds)
    scores = [json.loads(x) for x in (out / "dig" / "scores.jsonl").read_text().splitlines()]
    expected_scale = vlp.scale(96, 64)
    assert all(s["scale"] == (None if expected_scale is None else list(expected_scale)) for s in scores)
    # rerun: all reused, no model call needed for answers
    res = dig_eval(*args)
    assert res.exit_code == 0 and "(4 reused, 0 generated)" in res.output


def test_same_tokens_as_generate(tmp_path, tiny_model):
    """The adapter's answers are exactly what model.generate gives for the chat-templated prompt,
    for a batch (left padding, different image counts) as for each request alone."""
    import torch
    from PIL import Image

    a = Image.new("RGB", (64, 48), (200, 30, 30))
    b = Image.new("RGB", (80, 40), (30, 30, 200))
    reqs = [Request("t", "two", "Find the differences.", [a, b], 7),
            Request("t", "one", "What is in this image? Answer in detail please.", [b], 7)]
    ad = HFAdapter(HFConfig(path=str(tiny_model), device="cpu", batch_size=2))
    batched = ad.generate(reqs)
    assert ad.calls == 1
    singles = [ad.generate([r])[0] for r in reqs]
    assert batched == singles
    text = ad.prompt_text(reqs[0])
    assert text.index("<|vision_start|>") < text.index("Find the differences.")
    assert text.count("<|vision_start|>") == 2 and text.rstrip().endswith("assistant")
    for r, got in zip(reqs, singles):
        inputs = ad.processor(text=[ad.prompt_text(r)], images=r.images, return_tensors="pt")
        with torch.inference_mode():
            ids = ad.model.generate(**inputs, max_new_tokens=7, do_sample=False)
        new = ids[0, inputs["input_ids"].shape[1]:]
        assert got == ad.tokenizer.decode(new, skip_special_tokens=True)
    info = ad.info()
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["do_sample"] is False
    ad.close()


def test_sampling_is_seeded(tiny_qwen3_vl, tmp_path):
    from PIL import Image

    img = Image.new("RGB", (48, 48), (90, 160, 90))
    reqs = [Request("t", f"r{i}", "Describe.", [img], 10) for i in range(2)]

    def run(seed):
        ad = HFAdapter(HFConfig(path=str(tiny_qwen3_vl), do_sample=True, temperature=1.5, seed=seed))
        return ad.generate(reqs)

    first = run(0)
    assert run(0) == first
    assert run(1) != first


def test_think_tags_kept_when_special(tiny_qwen3_vl):
    """Qwen3 tokenizers mark <think> as an added token; where it is special, decoding keeps it."""
    from dig_core.models.vlm import VLProcessor
    from dig_eval.adapters.common import decode, special_ids_to_drop
    from tokenizers import AddedToken

    tok = VLProcessor(tiny_qwen3_vl).tokenizer
    tok.add_tokens([AddedToken("<think>", special=True), AddedToken("</think>", special=True)], special_tokens=True)
    think = tok.convert_tokens_to_ids("<think>")
    assert tok.added_tokens_decoder[think].special
    ids = tok("<think>a</think>[[1, 2, 3, 4]]<|im_end|>")["input_ids"]
    assert "<think>" not in tok.decode(ids, skip_special_tokens=True)  # what plain decoding would lose
    assert decode(tok, ids, special_ids_to_drop(tok)) == "<think>a</think>[[1, 2, 3, 4]]"


def test_a_thinking_template_keeps_the_opened_thought_in_the_completion(tiny_qwen3_vl, tmp_path):
    """A template that opens <think> in the generation prompt: each completion starts with it, so an
    answer cut off before </think> has no answer region (every evaluator reads it as unanswered)."""
    from dig_core.task import answer_region
    from PIL import Image

    from tests.helpers import thinking_copy

    img = Image.new("RGB", (48, 48), (90, 160, 90))
    reqs = [Request("t", "r", "Describe.", [img], 6)]
    plain = HFAdapter(HFConfig(path=str(tiny_qwen3_vl))).generate(reqs)[0]
    thinking = HFAdapter(HFConfig(path=str(thinking_copy(tiny_qwen3_vl, tmp_path / "thinking")))).generate(reqs)[0]
    assert not plain.startswith("<think>") and thinking.startswith("<think>") and len(thinking) > len("<think>")
    assert answer_region(thinking) == "" and answer_region(thinking + "</think>[1, 2, 3, 4]") == "[1, 2, 3, 4]"


def test_bad_image_is_named(tiny_qwen3_vl, tmp_path):
    from dig_core.errors import DigError

    ad = HFAdapter(HFConfig(path=str(tiny_qwen3_vl)))
    with pytest.raises(DigError, match="b/x: image not found"):
        ad.generate([Request("b", "x", "hi", [str(tmp_path / "gone.png")])])
