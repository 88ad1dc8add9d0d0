"""lmms-eval model ``dig``: DiG's model adapters inside lmms-eval's own evaluator.

Registered through the ``lmms_eval.models`` entry-point group (:func:`manifest`), so lmms-eval's CLI
finds it: ``lmms-eval --model dig --model_args adapter=hf,path=ckpt --tasks mmstar``; any other
``model_args`` are the adapter's params (``coords=rel1000``, ``max_new_tokens=64``, ...). In Python,
``simple_evaluate(model=DigLmms(adapter=<a ModelAdapter>), tasks=[...])`` works too.

Only ``generate_until`` is supported; ``loglikelihood`` and ``generate_until_multi_round`` raise.
"""

from __future__ import annotations

from typing import Any

from dig_core.errors import DigError

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.lmms.tasks import LmmsEvalError

try:
    from lmms_eval.api.model import lmms
except ImportError as e:  # pragma: no cover - the lmms extra
    raise LmmsEvalError(f"the lmms-eval model 'dig' needs lmms-eval 0.7 ({e}); pip install 'dig-eval[lmms]'") from None

MODEL_ID = "dig"


def manifest():
    """Entry point of the ``lmms_eval.models`` group."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=MODEL_ID, simple_class_path="dig_eval.lmms.model.DigLmms")


def build_adapter(name: str, params: dict[str, Any]) -> ModelAdapter:
    """A DiG model adapter by name with string params from lmms-eval's ``model_args`` (validated by
    the adapter's config schema, as in ``dig eval``)."""
    from dig_core.config import plugin_params
    from dig_core.errors import ConfigError
    from dig_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    cls = pm.get("model_adapter", name)
    errors: list[str] = []
    cfg = plugin_params(cls, params, "model_args", errors)
    if errors:
        raise ConfigError(errors)
    return cls(cfg)


class DigLmms(lmms):
    """An lmms-eval model that answers with a DiG :class:`ModelAdapter`."""

    is_simple = True

    def __init__(self, adapter: ModelAdapter | str = "hf", batch_size: Any = None, device: Any = None,
                 max_batch_size: Any = None, **params: Any):
        super().__init__()
        if isinstance(adapter, str):
            try:
                adapter = build_adapter(adapter, params)
            except DigError as e:
                raise LmmsEvalError(f"lmms-eval model {MODEL_ID!r}: {e}") from None
        elif params:
            raise LmmsEvalError(f"lmms-eval model {MODEL_ID!r}: params {sorted(params)} given with an adapter instance")
        self.adapter = adapter
        self.batch_size_per_gpu = int(batch_size) if batch_size not in (None, "", "auto") else adapter.batch_size()

    def generate_until(self, requests) -> list[str]:
        out: list[str] = []
        step = max(1, self.batch_size_per_gpu)
        for start in range(0, len(requests), step):
            chunk = requests[start:start + step]
            reqs, stops = [], []
            for inst in chunk:
                ctx, gen_kwargs, doc_to_visual, doc_id, task, split = inst.args[:6]
                doc = self.task_dict[task][split][doc_id]
                visuals = [v for v in (doc_to_visual(doc) if doc_to_visual is not None else []) if v is not None]
                gen_kwargs = dict(gen_kwargs or {})
                until = gen_kwargs.get("until") or []
                stops.append([until] if isinstance(until, str) else list(until))
                max_new = gen_kwargs.get("max_new_tokens")
                reqs.append(Request("lmms-eval", f"{task}/{doc_id}", ctx, visuals, int(max_new) if max_new else None))
            answers = self.adapter.generate(reqs)
            for answer, until, req in zip(answers, stops, reqs):
                if answer is None:
                    raise LmmsEvalError(f"lmms-eval model {MODEL_ID!r}: the {self.adapter.PLUGIN_NAME} adapter has "
                                        f"no answer for {req.benchmark}/{req.id}")
                for stop in until:
                    if stop and stop in answer:
                        answer = answer.split(stop)[0]
                out.append(answer)
        return out

    def loglikelihood(self, requests):
        raise LmmsEvalError(f"lmms-eval model {MODEL_ID!r}: log-likelihood tasks are not supported (DiG's adapters "
                            "return text, not token log-probabilities); choose a generate_until task")

    def generate_until_multi_round(self, requests):
        raise LmmsEvalError(f"lmms-eval model {MODEL_ID!r}: multi-round generation is not supported")
