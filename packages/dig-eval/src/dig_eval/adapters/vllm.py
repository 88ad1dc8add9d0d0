"""``vllm``: the vLLM offline engine (GPU), with the same chat template and decoding as ``hf``.

vLLM needs numpy 2, so it lives in an environment without ``bpy``; it is imported only when the
engine starts, and its absence is a clear error (``pip install 'dig-eval[vllm]'``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from dig_eval.adapters.base import Request
from dig_eval.adapters.common import (
    AdapterError,
    LiveModelAdapter,
    LiveModelConfig,
    live_config_errors,
    load_images,
    model_dir,
    request_seed,
    special_ids_to_drop,
    vl_processor,
)

VLLM_DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass
class VLLMConfig(LiveModelConfig):
    batch_size: int = 256
    #: images per prompt the engine accepts (limit_mm_per_prompt); DiG pairs need 2
    max_images: int = 2
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    #: context length (prompt + completion); null = the model's
    max_model_len: Optional[int] = None
    dtype: str = "auto"
    #: skip CUDA graphs (faster start, slower decoding)
    enforce_eager: bool = False


def import_vllm():
    """The ``vllm`` module, or an :class:`AdapterError` that says how to install it."""
    try:
        import vllm
    except ImportError as e:
        raise AdapterError(
            f"the vllm adapter needs vLLM, which is not importable here ({e}); install it on a GPU machine "
            "with pip install 'dig-eval[vllm]' (vLLM needs numpy 2: use an environment without bpy), "
            "or use model.name=hf"
        ) from None
    return vllm


class VLLMAdapter(LiveModelAdapter):
    """vLLM ``LLM.generate`` on ``{"prompt", "multi_modal_data": {"image": [...]}}`` inputs."""

    PLUGIN_NAME: ClassVar[str] = "vllm"
    Config: ClassVar[type] = VLLMConfig

    @classmethod
    def validate_config(cls, cfg: VLLMConfig) -> list[str]:
        errors = live_config_errors(cfg)
        if cfg.max_images < 1:
            errors.append(f"max_images must be >= 1, got {cfg.max_images}")
        if cfg.tensor_parallel_size < 1:
            errors.append(f"tensor_parallel_size must be >= 1, got {cfg.tensor_parallel_size}")
        if not (0 < cfg.gpu_memory_utilization <= 1):
            errors.append(f"gpu_memory_utilization must be in (0, 1], got {cfg.gpu_memory_utilization}")
        if cfg.max_model_len is not None and cfg.max_model_len < 1:
            errors.append(f"max_model_len must be >= 1 or null, got {cfg.max_model_len}")
        if cfg.dtype not in VLLM_DTYPES:
            errors.append(f"dtype: unknown {cfg.dtype!r}; allowed: {list(VLLM_DTYPES)}")
        return errors

    def __init__(self, config: VLLMConfig | None = None, engine: Any = None):
        """``engine``: an existing ``vllm.LLM`` (None = start one from the config)."""
        super().__init__(config)
        model_dir(self.config.path)
        self.vlp = vl_processor(self.config)
        self.tokenizer = self.vlp.processor.tokenizer
        self._drop = special_ids_to_drop(self.tokenizer)
        self.engine = engine if engine is not None else self._start()

    # -- engine-free parts (tested without a GPU) ------------------------------------------------
    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments of ``vllm.LLM``."""
        c = self.config
        args: dict[str, Any] = {
            "model": str(model_dir(c.path).resolve()),
            "limit_mm_per_prompt": {"image": c.max_images},
            "tensor_parallel_size": c.tensor_parallel_size,
            "gpu_memory_utilization": c.gpu_memory_utilization,
            "seed": c.seed,
            "dtype": c.dtype,
            "enforce_eager": c.enforce_eager,
        }
        if c.max_model_len is not None:
            args["max_model_len"] = c.max_model_len
        mm = {k: v for k, v in (("min_pixels", c.min_pixels), ("max_pixels", c.max_pixels)) if v is not None}
        if mm:
            args["mm_processor_kwargs"] = mm
        return args

    def sampling_args(self, max_new_tokens: int, request_id: str = "") -> dict[str, Any]:
        """Keyword arguments of ``vllm.SamplingParams`` for one request: its own seed (from the
        config seed and the request id, so answers do not depend on batching); token ids are
        decoded here, like ``hf``."""
        c = self.config
        args: dict[str, Any] = {"max_tokens": max_new_tokens, "seed": request_seed(c.seed, request_id),
                                "detokenize": False, "repetition_penalty": c.repetition_penalty}
        if c.do_sample:
            args.update(temperature=c.temperature, top_p=c.top_p, top_k=c.top_k if c.top_k > 0 else -1)
        else:
            args.update(temperature=0.0, top_p=1.0, top_k=-1)
        return args

    def prompt_input(self, request: Request) -> dict[str, Any]:
        """One engine input: the chat-templated prompt and its images."""
        n = len(request.images)
        if n > self.config.max_images:
            raise AdapterError(f"{request.benchmark}/{request.id}: {n} images but model.params.max_images="
                               f"{self.config.max_images} (raise it)")
        item: dict[str, Any] = {"prompt": self.vlp.chat_prompt(request.prompt, n)}
        if n:
            item["multi_modal_data"] = {"image": load_images(request.images, f"{request.benchmark}/{request.id}")}
        return item

    def completion(self, token_ids: Sequence[int]) -> str:
        return self.completion_text(token_ids)

    # -- the engine ----------------------------------------------------------------------------
    def _start(self):
        vllm = import_vllm()
        return vllm.LLM(**self.engine_args())

    def generate(self, requests: Sequence[Request]) -> list[str]:
        from vllm import SamplingParams

        out: list[str | None] = [None] * len(requests)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            groups[r.max_new_tokens or self.config.max_new_tokens].append(i)
        for max_new, idx in groups.items():
            inputs = [self.prompt_input(requests[i]) for i in idx]
            params = [SamplingParams(**self.sampling_args(max_new, requests[i].id)) for i in idx]
            results = self.engine.generate(inputs, params, use_tqdm=False)
            for i, res in zip(idx, results):
                out[i] = self.completion(res.outputs[0].token_ids)
        return out  # type: ignore[return-value]

    def engine_info(self) -> dict[str, Any]:
        c = self.config
        return {"tensor_parallel_size": c.tensor_parallel_size, "dtype": c.dtype}

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            del engine
            try:
                import gc

                import torch

                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            except ImportError:
                pass
