"""Evaluator ``lmms-eval``: an lmms-eval 0.7 task run by ``dig eval`` with DiG's model adapters.

lmms-eval builds each document's prompt and images (``doc_to_text``, ``doc_to_visual``, its
generation settings) and scores the answers with the task's own filters, ``process_results`` and
aggregations; DiG's runner sends the requests to the adapter, stores predictions and resumes, so an
lmms-eval task is scored from a ``predictions`` file exactly like a live model. Only
``generate_until`` tasks are supported (log-likelihood scoring needs the model's logits, which
the adapters do not expose). Tasks with a GPT judge are refused (:mod:`dig_eval.lmms.tasks`).

Sample ids are ``<task>/<doc_id>``; metrics are ``<task>/<metric>`` (``<task>/<metric>,<filter>``
for filters other than lmms-eval's default ``none``), in lmms-eval's own scale. A missing answer
(``missing: wrong``) is scored as lmms-eval scores an empty one.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar, Optional

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import EvalConfig, Evaluator, Sample
from dig_eval.lmms.tasks import LmmsEvalError, load_tasks

BENCHMARK = "lmms-eval"


@dataclass
class LmmsEvalConfig(EvalConfig):
    #: lmms-eval task (or group) names, e.g. [pope, mmstar]
    tasks: list[str] = field(default_factory=list)
    #: extra folders of task YAMLs (lmms-eval's --include_path)
    include_path: list[str] = field(default_factory=list)
    #: local data per task: {task: dataset folder | save_to_disk folder | parquet file(s) or glob}
    data: dict[str, str] = field(default_factory=dict)
    #: first N documents of each task (0 = all)
    limit: int = 0
    #: overrides the tasks' max_new_tokens (null = the task's own generation_kwargs)
    max_new_tokens: Optional[int] = None


class LazyVisual:
    """Image ``k`` of a document's ``doc_to_visual``, produced when the adapter asks for it."""

    __slots__ = ("task", "doc_id", "k")

    def __init__(self, task, doc_id: int, k: int):
        self.task, self.doc_id, self.k = task, doc_id, k

    def convert(self, mode: str = "RGB"):
        visual = self.task.doc_to_visual(self.task.eval_docs[self.doc_id])[self.k]
        if not hasattr(visual, "convert"):
            raise LmmsEvalError(f"lmms-eval task {self.task.config.task}: doc {self.doc_id} visual {self.k} is "
                                f"{type(visual).__name__}, not an image (video/audio tasks are not supported)")
        return visual.convert(mode)

    def __repr__(self) -> str:
        return f"lmms-eval {self.task.config.task} doc {self.doc_id} visual {self.k}"


def json_safe(value: Any, where: str) -> Any:
    """``value`` with numpy scalars / tuples turned into JSON types (non-finite floats to None)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, where) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item(), where)
    raise LmmsEvalError(f"{where}: lmms-eval's process_results returned a {type(value).__name__}, which cannot "
                        "be stored as a per-sample record")


class LmmsEvalEvaluator(Evaluator):
    PLUGIN_NAME: ClassVar[str] = BENCHMARK
    Config: ClassVar[type] = LmmsEvalConfig

    @classmethod
    def validate_config(cls, cfg: LmmsEvalConfig) -> list[str]:
        errors = super().validate_config(cfg)
        if not cfg.tasks:
            errors.append("tasks: name at least one lmms-eval task (e.g. [pope])")
        if cfg.limit < 0:
            errors.append(f"limit must be >= 0 (0 = all), got {cfg.limit}")
        if cfg.max_new_tokens is not None and cfg.max_new_tokens < 1:
            errors.append(f"max_new_tokens must be >= 1 or null, got {cfg.max_new_tokens}")
        return errors

    def __init__(self, config: LmmsEvalConfig | None = None):
        super().__init__(config)
        self._tasks: dict[str, Any] | None = None

    def tasks(self) -> dict[str, Any]:
        if self._tasks is None:
            c = self.config
            self._tasks = load_tasks(list(c.tasks), list(c.include_path), dict(c.data))
        return self._tasks

    def samples(self, model: ModelAdapter) -> list[Sample]:
        out: list[Sample] = []
        for name, task in self.tasks().items():
            kind = task.get_config("output_type")
            if kind != "generate_until":
                raise LmmsEvalError(f"lmms-eval task {name!r} is {kind}; the bridge runs generate_until tasks only "
                                    "(log-likelihood scoring needs the model's logits)")
            if task.get_config("num_fewshot") is None:
                task.set_config(key="num_fewshot", value=0)
            try:
                task.build_all_requests(limit=self.config.limit or None, rank=0, world_size=1)
            except Exception as e:  # noqa: BLE001 - name the task and cause
                raise LmmsEvalError(f"lmms-eval task {name!r}: building its requests failed: {type(e).__name__}: {e}") from None
            for inst in task.instances:
                ctx, gen_kwargs, doc_to_visual, doc_id = inst.args[:4]
                visuals = doc_to_visual(task.eval_docs[doc_id]) if doc_to_visual is not None else []
                images = [LazyVisual(task, doc_id, k) for k in range(len(visuals or []))]
                max_new = self.config.max_new_tokens or (gen_kwargs or {}).get("max_new_tokens")
                until = (gen_kwargs or {}).get("until") or []
                out.append(Sample(Request(BENCHMARK, f"{name}/{doc_id}", ctx, images,
                                          int(max_new) if max_new else None),
                                  {"task": name, "doc_id": int(doc_id),
                                   "until": [until] if isinstance(until, str) else list(until)}))
        return out

    def _filtered(self, task, completion: str) -> dict[str, Any]:
        """The task's filter ensembles applied to one answer: ``{filter name: filtered answer}``."""
        from lmms_eval.api.instance import Instance

        inst = Instance(request_type="generate_until", arguments=("", {}, None, 0, task.config.task, None), idx=0,
                        metadata={"task": task.config.task, "doc_id": 0, "repeats": 1})
        inst.resps = [completion]
        for ensemble in getattr(task, "_filters", []) or []:
            ensemble.apply([inst], None)
        return inst.filtered_resps or {"none": completion}

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        t = sample.target
        task = self.tasks()[t["task"]]
        for stop in t.get("until") or []:  # what lmms-eval's own models do with `until`
            if stop and stop in completion:
                completion = completion.split(stop)[0]
        docs = task.eval_docs
        if not getattr(task.config, "process_results_use_image", False):
            docs = getattr(task, "eval_docs_no_media", None) or docs  # no image decoding to score
        doc = docs[t["doc_id"]]
        results = {}
        for filter_key, filtered in self._filtered(task, completion).items():
            values = task.process_results(doc, [filtered])
            key = "" if filter_key == "none" else f",{filter_key}"
            results.update({f"{m}{key}": v for m, v in values.items()})
        return {"task": t["task"], "doc_id": t["doc_id"],
                "results": json_safe(results, f"{BENCHMARK}/{t['task']}/{t['doc_id']}")}

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        by_task: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_task.setdefault(r["task"], []).append(r)
        for name, recs in by_task.items():
            task = self.tasks()[name]
            aggregations = task.aggregation()
            keys = list(dict.fromkeys(k for r in recs for k in r["results"]))
            for key in keys:
                metric = key.split(",")[0]
                if metric not in aggregations:
                    continue
                items = [r["results"][key] for r in recs if key in r["results"]]
                fn = aggregations[metric]
                if "args" in inspect.signature(fn).parameters:
                    value = fn(items, args=SimpleNamespace(output_path=None))
                else:
                    value = fn(items)
                if isinstance(value, (int, float)) or hasattr(value, "item"):
                    value = float(value)
                    if math.isfinite(value):
                        out[f"{name}/{key}"] = value
            out[f"{name}/n"] = float(len(recs))
        return out
