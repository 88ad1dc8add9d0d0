"""The eval runner: every configured evaluator with one model adapter, into a run folder.

Layout (``RUN_DIR``)::

    eval.json                    model section, dig-eval version, benchmark order (written once a
                                 benchmark's samples are ready, so a config error leaves no trace)
    results.md                   markdown tables of every benchmark in the folder
    <benchmark>/predictions.jsonl  one line per answered sample (appended per batch: resumable)
    <benchmark>/scores.jsonl       the evaluator's per-sample record (rewritten each run)
    <benchmark>/metrics.json       metrics, counts, missing answers, model info, evaluator params, throughput

Resume: rerunning the same command skips samples already in ``predictions.jsonl`` (their target
must match the data now) and rescoring covers every sample, so changed scoring settings apply to
old answers too. A different model config in the same folder is refused.

Missing answers (the adapter returned None): warned and listed (``metrics.json`` ``missing.ids``,
``counts.missing``); scored as wrong answers (``Evaluator.score_missing``, their records flagged
``"missing": true``) unless the evaluator's ``missing`` param is ``exclude``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dig_core.config import instantiate, to_plain
from dig_core.data.dataset import MANIFEST, refuse_output_in_dataset
from dig_core.data.io import atomic_write_text, dumps_json, ensure_folder
from dig_core.errors import ConfigError
from dig_core.plugins import get_plugin_manager
from omegaconf import DictConfig, OmegaConf

from dig_eval import __version__
from dig_eval.adapters.base import ModelAdapter
from dig_eval.evaluators.base import Evaluator, Sample, missing_policy
from dig_eval.report import METRICS, RESULTS, results_markdown, run_info_path
from dig_eval.store import PREDICTIONS, PredictionStore, RunError, normalized

SCORES = "scores.jsonl"
#: config sections an eval reads (``dig eval``, the pipeline's eval step, the report's dynamics)
SECTIONS = ("task", "reward", "model", "evaluator", "evaluators")
#: model params that change how a run executes but not its answers (may differ on resume)
RUN_ONLY_PARAMS = ("batch_size", "device", "gpu_memory_utilization", "tensor_parallel_size", "enforce_eager",
                   "strict", "attn_implementation")


def _warn(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"warning: {msg}", file=sys.stderr)


def build_evaluators(cfg: DictConfig, pm=None) -> list[Evaluator]:
    """``evaluator`` (if named) then every entry of ``evaluators``; benchmark names must differ."""
    pm = pm or get_plugin_manager()
    evaluators: list[Evaluator] = []
    if cfg.evaluator.name is not None:
        evaluators.append(instantiate(cfg, "evaluator", "evaluator", pm))
    for i in range(len(cfg.evaluators)):
        evaluators.append(instantiate(cfg, f"evaluators[{i}]", "evaluator", pm))
    if not evaluators:
        names = sorted(pm.registries["evaluator"])
        raise ConfigError(f"no evaluator configured: set evaluator.name (one of {names}) or list evaluators")
    seen: dict[str, int] = {}
    for i, ev in enumerate(evaluators):
        if ev.benchmark in seen:
            raise ConfigError(f"two evaluators write benchmark {ev.benchmark!r} (entries {seen[ev.benchmark]} and {i}); "
                              "give one another name (dig: params.name)")
        seen[ev.benchmark] = i
    return evaluators


def _model_key(model_section: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in (model_section.get("params") or {}).items() if k not in RUN_ONLY_PARAMS}
    return {"name": model_section.get("name"), "params": params}


def check_run(out: Path, cfg: DictConfig) -> list[str]:
    """Refuse a folder that holds a run of another model; return its benchmark order."""
    info_path = run_info_path(out)
    if not info_path.is_file():
        return []
    try:
        old = json.loads(info_path.read_text())
    except json.JSONDecodeError:
        raise RunError(f"{info_path}: corrupt run info; choose a new --out") from None
    if _model_key(old.get("model", {})) != _model_key(to_plain(cfg)["model"]):
        raise RunError(f"{out} holds a run of another model ({json.dumps(old.get('model'))}); rerun with the "
                       "same model config to resume it, or choose a new --out")
    return list(old.get("benchmarks", []))


def write_run_info(out: Path, cfg: DictConfig, benchmark: str) -> None:
    """``eval.json``: the model section and the benchmarks in the order they were first run."""
    order = check_run(out, cfg)
    if benchmark not in order:
        order.append(benchmark)
    ensure_folder(out)
    atomic_write_text(run_info_path(out), dumps_json({"dig_eval": __version__, "model": to_plain(cfg)["model"],
                                                      "benchmarks": order}))


def evaluate(model: ModelAdapter, evaluator: Evaluator, bench_dir: str | Path, progress: bool = True,
             warn: Callable[[str], None] = _warn, params: dict[str, Any] | None = None,
             on_start: Callable[[], None] | None = None) -> dict[str, Any]:
    """Answer every sample of ``evaluator`` not yet in ``bench_dir/predictions.jsonl``, score them
    all, write ``scores.jsonl`` and ``metrics.json``; return the metrics.json content.
    ``on_start`` is called once the samples are known, before the first answer is stored."""
    from tqdm import tqdm

    bench = evaluator.benchmark
    bench_dir = Path(bench_dir)
    samples: list[Sample] = evaluator.samples(model)
    ids = [s.request.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = sorted(i for i, n in Counter(ids).items() if n > 1)[:10]
        raise RunError(f"{bench}: sample ids are not unique ({', '.join(dup)})")
    targets = {s.request.id: normalized(s.target, f"{bench}/{s.request.id}: target") for s in samples}
    store = PredictionStore(bench_dir / PREDICTIONS)
    for pid in ids:
        store.check_target(pid, targets[pid])
    reused = sum(pid in store for pid in ids)
    if on_start is not None:
        on_start()
    ensure_folder(bench_dir)
    generated = 0
    started = time.time()
    try:
        with tqdm(total=len(samples), initial=reused, unit="sample", desc=f"dig eval {bench}", disable=not progress,
                  dynamic_ncols=True) as bar:
            step = max(1, model.batch_size())
            # batches are cut from the full sample list, so a resumed run sends the same batches as an
            # uninterrupted one (sampling seeds are per batch in the hf adapter)
            chunks = [[s for s in samples[i:i + step] if s.request.id not in store] for i in range(0, len(samples), step)]
            for chunk in (c for c in chunks if c):
                completions = model.generate([s.request for s in chunk])
                if len(completions) != len(chunk):
                    raise RunError(f"model adapter {model.PLUGIN_NAME!r} returned {len(completions)} completions "
                                   f"for {len(chunk)} requests")
                rows = []
                for s, c in zip(chunk, completions):
                    if c is None:
                        continue
                    rows.append({"benchmark": bench, "id": s.request.id, "completion": c,
                                 "target": targets[s.request.id]})
                store.append(rows)
                generated += len(rows)
                bar.update(len(chunk))
    finally:
        store.close()
    seconds = time.time() - started
    policy = missing_policy(evaluator)
    missing = [pid for pid in ids if pid not in store]
    if missing:
        head = ", ".join(missing[:10]) + (f", ... ({len(missing) - 10} more)" if len(missing) > 10 else "")
        how = ("scored as wrong (missing: exclude leaves them out)" if policy == "wrong" else
               "left out of the metrics (missing: exclude)")
        warn(f"{bench}: {len(missing)} sample(s) without an answer, {how}: {head}")
    records = []
    for s in samples:
        pid = s.request.id
        if pid in store:
            records.append({"id": pid, **evaluator.score(s, store.completions[pid], model)})
        elif policy == "wrong":
            records.append({"id": pid, **evaluator.score_missing(s, model), "missing": True})
    metrics = evaluator.metrics(records)
    atomic_write_text(bench_dir / SCORES, "".join(json.dumps(r, allow_nan=False) + "\n" for r in records))
    result = {
        "benchmark": bench,
        "metrics": metrics,
        "counts": {"samples": len(samples), "scored": len(records), "missing": len(missing),
                   "reused": reused, "generated": generated},
        "missing": {"policy": policy, "ids": missing},
        "model": model.info(),
        "evaluator": {"name": evaluator.PLUGIN_NAME, "params": params or {}},
        "throughput": {"seconds": round(seconds, 3),
                       "samples_per_s": round(generated / seconds, 4) if generated and seconds > 0 else None},
    }
    atomic_write_text(bench_dir / METRICS, dumps_json(result))
    return result


def run_eval(cfg: DictConfig, out: str | Path, progress: bool = True, pm=None,
             warn: Callable[[str], None] = _warn) -> dict[str, dict[str, Any]]:
    """Run every configured evaluator with the configured model into ``out``; write results.md."""
    pm = pm or get_plugin_manager()
    out = Path(out)
    evaluators = build_evaluators(cfg, pm)
    if cfg.model.name is None:
        raise ConfigError(f"model.name is not set; one of {sorted(pm.registries['model_adapter'])}")
    for ev in evaluators:
        ev.bind(cfg)
    check_run(out, cfg)
    sections = ["evaluator"] if cfg.evaluator.name is not None else []
    sections += [f"evaluators[{i}]" for i in range(len(cfg.evaluators))]
    for section in sections:  # the DiG datasets the evaluators read (params dataset / path)
        params = OmegaConf.to_container(OmegaConf.select(cfg, section).params or {}, resolve=True)
        for key in ("dataset", "path"):
            data = params.get(key)
            if isinstance(data, str) and data and (Path(data).expanduser() / MANIFEST).is_file():
                refuse_output_in_dataset(out, Path(data).expanduser(), "--out (the run folder)")
    model = instantiate(cfg, "model", "model_adapter", pm)
    results: dict[str, dict[str, Any]] = {}
    try:
        for ev, section in zip(evaluators, sections):
            params = OmegaConf.to_container(OmegaConf.select(cfg, section).params, resolve=True)
            results[ev.benchmark] = evaluate(model, ev, out / ev.benchmark, progress, warn, params,
                                             on_start=lambda b=ev.benchmark: write_run_info(out, cfg, b))
            atomic_write_text(out / RESULTS, results_markdown(out))
    finally:
        model.close()
    return results
