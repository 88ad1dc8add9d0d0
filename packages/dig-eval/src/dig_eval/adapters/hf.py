"""``hf``: a transformers image-text-to-text model (``AutoModelForImageTextToText`` +
``AutoProcessor`` from a local folder) on CPU or GPU, batched with left padding."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import Request
from dig_eval.adapters.common import (
    AdapterError,
    LiveModelAdapter,
    LiveModelConfig,
    batch_seed,
    live_config_errors,
    load_images,
    model_dir,
    special_ids_to_drop,
    vl_processor,
)

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class HFConfig(LiveModelConfig):
    #: auto = cuda when available, else cpu
    device: str = "auto"
    #: auto = bfloat16 on cuda, float32 on cpu
    dtype: str = "auto"
    #: transformers attention implementation (null = its default, e.g. sdpa)
    attn_implementation: str | None = None


def _missing_extra(e: ImportError) -> AdapterError:
    return AdapterError(f"the hf adapter needs torch, torchvision and transformers ({e}); "
                        "install them with pip install 'dig-eval[hf]' (torch for your platform first)")


class HFAdapter(LiveModelAdapter):
    """Chat template of the model (images before the text in one user turn), greedy or sampled."""

    PLUGIN_NAME: ClassVar[str] = "hf"
    Config: ClassVar[type] = HFConfig

    @classmethod
    def validate_config(cls, cfg: HFConfig) -> list[str]:
        errors = live_config_errors(cfg)
        if cfg.device not in DEVICES:
            errors.append(f"device: unknown {cfg.device!r}; allowed: {list(DEVICES)}")
        if cfg.dtype not in DTYPES:
            errors.append(f"dtype: unknown {cfg.dtype!r}; allowed: {list(DTYPES)}")
        return errors

    def __init__(self, config: HFConfig | None = None):
        super().__init__(config)
        c = self.config
        path = model_dir(c.path)
        try:
            import torch
            from transformers import AutoModelForImageTextToText, GenerationConfig
        except ImportError as e:
            raise _missing_extra(e) from None
        self._torch = torch
        if c.device == "cuda" and not torch.cuda.is_available():
            raise AdapterError("model.params.device=cuda but no CUDA device is available (use auto or cpu)")
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if c.device == "auto" else c.device
        dtype = c.dtype if c.dtype != "auto" else ("bfloat16" if self.device == "cuda" else "float32")
        self.dtype = dtype
        self.vlp = vl_processor(c)
        self.processor = self.vlp.processor
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
        if c.attn_implementation:
            kwargs["attn_implementation"] = c.attn_implementation
        self.model = AutoModelForImageTextToText.from_pretrained(str(path), **kwargs).to(self.device).eval()
        base = self.model.generation_config
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else base.pad_token_id
        eos = base.eos_token_id if base.eos_token_id is not None else self.tokenizer.eos_token_id
        # every decoding setting explicit: None values would be filled from the model's generation_config
        self._gen_base = dict(do_sample=c.do_sample, pad_token_id=pad if pad is not None else eos, eos_token_id=eos,
                              bos_token_id=base.bos_token_id, repetition_penalty=c.repetition_penalty)
        if c.do_sample:
            self._gen_base.update(temperature=c.temperature, top_p=c.top_p, top_k=c.top_k)
        else:  # the neutral values (no effect on greedy decoding, no warnings)
            self._gen_base.update(temperature=1.0, top_p=1.0, top_k=50)
        self._GenerationConfig = GenerationConfig
        self._drop = special_ids_to_drop(self.tokenizer)
        self.calls = 0  # model.generate calls (tests count them)

    # -- the interface --------------------------------------------------------------------------
    def engine_info(self) -> dict[str, Any]:
        return {"device": self.device, "dtype": self.dtype}

    def prompt_text(self, request: Request) -> str:
        """The templated prompt (chat template, image placeholders before the text)."""
        return self.vlp.chat_prompt(request.prompt, len(request.images))

    def inputs(self, requests: Sequence[Request]):
        """The processor's batch (left padded) for ``requests``, on the model's device."""
        texts = [self.prompt_text(r) for r in requests]
        images = [im for r in requests for im in load_images(r.images, f"{r.benchmark}/{r.id}")]
        batch = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        return batch.to(self.device)

    def generate(self, requests: Sequence[Request]) -> list[str]:
        torch = self._torch
        out: list[str | None] = [None] * len(requests)
        groups: dict[int, list[int]] = defaultdict(list)  # max_new_tokens -> request indices
        for i, r in enumerate(requests):
            groups[r.max_new_tokens or self.config.max_new_tokens].append(i)
        bs = self.config.batch_size
        for max_new, idx in groups.items():
            for start in range(0, len(idx), bs):
                chunk = idx[start:start + bs]
                reqs = [requests[i] for i in chunk]
                batch = self.inputs(reqs)
                gen = self._GenerationConfig(max_new_tokens=max_new, **self._gen_base)
                torch.manual_seed(batch_seed(self.config.seed, [r.id for r in reqs]))
                with torch.inference_mode():
                    ids = self.model.generate(**batch, generation_config=gen)
                self.calls += 1
                new = ids[:, batch["input_ids"].shape[1]:].tolist()
                for i, row in zip(chunk, new):
                    out[i] = self.completion_text(row)
        return out  # type: ignore[return-value]

    def close(self) -> None:
        self.model = None
        if self.device == "cuda":
            self._torch.cuda.empty_cache()
