"""The ``vllm`` adapter without a GPU: engine and sampling arguments, the engine inputs (same chat
template and images as ``hf``), decoding, config checks, and the error when vLLM is missing.
The engine itself runs on a GPU machine (benchmarks/eval.py has a vllm row)."""

from __future__ import annotations

import importlib.util

import pytest
from dig_core.config import load_config
from dig_core.errors import ConfigError, DigError
from dig_eval.adapters.base import Request
from dig_eval.adapters.hf import HFAdapter, HFConfig
from dig_eval.adapters.vllm import VLLMAdapter, VLLMConfig
from dig_eval.run import SECTIONS
from PIL import Image

from tests.eval.util import ann, dig_eval, write_annotations

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


class _NoEngine:
    """Stands in for a started engine where only the engine-free methods are called."""


def _adapter(path, **kw):
    return VLLMAdapter(VLLMConfig(path=str(path), **kw), engine=_NoEngine())


def test_engine_and_sampling_args(tiny_qwen25_vl):
    ad = _adapter(tiny_qwen25_vl, max_images=3, tensor_parallel_size=2, gpu_memory_utilization=0.5,
                  max_model_len=4096, min_pixels=3136, max_pixels=50176, seed=7)
    args = ad.engine_args()
    assert args["model"] == str(tiny_qwen25_vl.resolve()) and args["limit_mm_per_prompt"] == {"image": 3}
    assert args["tensor_parallel_size"] == 2 and args["gpu_memory_utilization"] == 0.5
    assert args["max_model_len"] == 4096 and args["seed"] == 7
    assert args["mm_processor_kwargs"] == {"min_pixels": 3136, "max_pixels": 50176}
    assert "mm_processor_kwargs" not in _adapter(tiny_qwen25_vl).engine_args()
    greedy = ad.sampling_args(32, "a")
    assert greedy["temperature"] == 0.0 and greedy["max_tokens"] == 32 and greedy["detokenize"] is False
    # one seed per request, from the config seed and the id: answers do not depend on batching
    assert ad.sampling_args(32, "a")["seed"] == greedy["seed"] != ad.sampling_args(32, "b")["seed"]
    sampled = _adapter(tiny_qwen25_vl, do_sample=True, temperature=0.7, top_p=0.9, top_k=20).sampling_args(8, "a")
    assert (sampled["temperature"], sampled["top_p"], sampled["top_k"]) == (0.7, 0.9, 20)
    assert ad.coords() == "pixels" and ad.scale(96, 64) is not None and ad.info()["tensor_parallel_size"] == 2


def test_inputs_match_the_hf_adapter(tiny_qwen3_vl, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(a)
    Image.new("RGB", (64, 48), (4, 5, 6)).save(b)
    req = Request("dig", "x", "Find every difference.", [str(a), str(b)])
    ad = _adapter(tiny_qwen3_vl)
    item = ad.prompt_input(req)
    hf = HFAdapter(HFConfig(path=str(tiny_qwen3_vl)))
    assert item["prompt"] == hf.prompt_text(req)
    assert [im.size for im in item["multi_modal_data"]["image"]] == [(64, 48), (64, 48)]
    assert "multi_modal_data" not in ad.prompt_input(Request("t", "y", "Hello."))
    with pytest.raises(DigError, match="max_images"):
        ad.prompt_input(Request("dig", "z", "three", [str(a)] * 3))
    ids = hf.tokenizer("<think>x</think>[[1, 2, 3, 4]]<|im_end|><|endoftext|>")["input_ids"]
    assert ad.completion(ids) == "<think>x</think>[[1, 2, 3, 4]]"


@pytest.mark.skipif(HAVE_VLLM, reason="vllm is installed here")
def test_missing_vllm_is_a_clear_error(tiny_qwen3_vl, tmp_path):
    with pytest.raises(DigError, match=r"pip install 'dig-eval\[vllm\]'"):
        VLLMAdapter(VLLMConfig(path=str(tiny_qwen3_vl)))
    ds = write_annotations(tmp_path / "ds", [ann("x", [[0, 0, 10, 10]], ["add"])])
    res = dig_eval("model.name=vllm", f"model.params.path={tiny_qwen3_vl}", "evaluator.name=dig",
                   f"evaluator.params.dataset={ds}", "--out", tmp_path / "run", "--no-progress")
    assert res.exit_code == 1 and "dig-eval[vllm]" in res.output and "Traceback" not in res.output


def test_config_checks():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["model.name=vllm", "model.params.gpu_memory_utilization=1.5", "model.params.max_images=0",
                           "model.params.dtype=int3", "model.params.coords=rel7"], sections=SECTIONS)
    text = str(e.value)
    for key in ("gpu_memory_utilization", "max_images", "dtype", "coords", "path"):
        assert key in text
