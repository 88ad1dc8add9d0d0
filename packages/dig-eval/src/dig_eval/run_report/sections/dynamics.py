"""Prediction-dynamics section (the paper's Fig. 4): the same few DiG pairs answered by every saved
checkpoint of the training run — the base model, then each finished stage's checkpoint — one row
per pair, one column per checkpoint (drawn by :func:`dig_eval.show.prediction_sheet`).

The answers come from dig-eval's own runner (:func:`dig_eval.run.run_eval`, the ``hf`` adapter with
greedy decoding, the ``dig`` evaluator), i.e. exactly what ``dig eval`` would answer, with the
training run's task and reward sections and its model settings (coords, pixel budget, completion
length). Each checkpoint's answers are a small eval run in ``OUT/dynamics/<column>/``, with a
``key.json`` of what they were made from (checkpoint, its DONE marker, pairs, config); a rerun with
the same key loads no model, another key recomputes that column.

The pairs: the DiG-Bench eval's dataset and stage (the first eval run's ``dig``-evaluator
benchmark), else the last stage of the training dataset; the first ``--pairs`` of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dig_core.data.dataset import read_annotations
from dig_core.data.io import atomic_write_text
from dig_core.errors import DigError

from dig_eval.report import METRICS
from dig_eval.run import SECTIONS as EVAL_SECTIONS
from dig_eval.run_report.context import Context
from dig_eval.run_report.discover import train_info
from dig_eval.run_report.html import Section
from dig_eval.show import prediction_sheet

FOLDER = "dynamics"
SHEET = "dynamics.png"
KEY = "key.json"
BENCH = "dig"
BASE = "base"
#: trainer.params copied into the hf adapter's params
MODEL_PARAMS = ("coords", "min_pixels", "max_pixels", "max_new_tokens")


def pair_source(ctx: Context) -> tuple[Path, str | None, str] | None:
    """``(dataset, stage or None, where it comes from)`` of the pairs to draw, or None."""
    for run in ctx.parts.evals:
        for metrics in sorted(run.glob(f"*/{METRICS}")):
            try:
                data = json.loads(metrics.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            ev = data.get("evaluator") or {}
            params = ev.get("params") or {}
            dataset = params.get("dataset")
            if ev.get("name") != "dig" or not dataset:
                continue
            # a relative path is relative to where dig eval ran: here, or the run folder
            for folder in (Path(dataset).expanduser(), ctx.run_dir / dataset):
                if folder.is_dir():
                    return folder, params.get("stage"), f"the pairs of {metrics.parent}"
    if ctx.parts.data is not None:
        stages = list(dict.fromkeys(str(r["stage"]) for r in read_annotations(ctx.parts.data)))
        if stages:
            return ctx.parts.data, stages[-1], f"the last stage of {ctx.parts.data}"
    return None


def checkpoints(train: Path) -> tuple[list[tuple[str, str, dict[str, Any] | None]], list[str]]:
    """``([(column, model folder, DONE marker or None for the base model)], [stages not finished])``."""
    from dig_core.training import RunDir

    from dig_eval.run_report.discover import base_model

    run = RunDir(train)
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    base = base_model(train)
    if base:
        out.append((BASE, base, None))
    pending = []
    for name in (run.read_manifest() or {}).get("stages", []):
        done = run.read_done(str(name))
        if done is None:
            pending.append(str(name))
        else:
            out.append((str(name) if str(name) != BASE else f"stage-{name}", done["checkpoint"], done))
    return out, pending


def eval_config(train: Path, model: str, dataset: Path, stage: str | None, pairs: int) -> dict[str, Any]:
    """The dig eval config of one column: the training run's task and reward, the hf adapter on
    ``model`` (greedy, the trainer's coords / pixel budget / completion length), the dig evaluator
    on the first ``pairs`` pairs of ``dataset`` (``stage``)."""
    _, config = train_info(train)
    tparams = (config.get("trainer") or {}).get("params") or {}
    params: dict[str, Any] = {"path": str(model), "do_sample": False, "batch_size": pairs}
    params.update({k: tparams[k] for k in MODEL_PARAMS if tparams.get(k) is not None})
    cfg: dict[str, Any] = {"model": {"name": "hf", "params": params},
                           "evaluator": {"name": "dig", "params": {"dataset": str(dataset), "stage": stage,
                                                                  "limit": pairs, "name": BENCH}}}
    for section in ("task", "reward"):
        if isinstance(config.get(section), dict):
            cfg[section] = config[section]
    return cfg


def _run_column(ctx: Context, folder: Path, key: dict[str, Any], cfg: dict[str, Any]) -> bool:
    """Answer the pairs with one checkpoint into ``folder`` unless its key says it already did;
    return whether inference ran."""
    from dig_core.config import load_config

    from dig_eval.run import run_eval

    key_path = folder / KEY
    if key_path.is_file() and (folder / BENCH / METRICS).is_file():
        try:
            if json.loads(key_path.read_text()) == key:
                return False
        except json.JSONDecodeError:
            pass
    if folder.exists():  # answers of another checkpoint / other pairs: start over
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    yaml_path = folder / "eval.yaml"
    from omegaconf import OmegaConf

    atomic_write_text(yaml_path, OmegaConf.to_yaml(OmegaConf.create(cfg)))
    run_eval(load_config(yaml_path, sections=EVAL_SECTIONS), folder, progress=ctx.progress)
    atomic_write_text(key_path, json.dumps(key, indent=2, sort_keys=True) + "\n")
    return True


def build(ctx: Context) -> Section:
    sec = Section("dynamics", "Prediction dynamics")
    train = ctx.parts.train
    if train is None:
        return sec.missing("no training run found, so no checkpoints to compare; pass --train DIR")
    columns, pending = checkpoints(train)
    trained = [c for c in columns if c[2] is not None]
    if not trained:
        return sec.missing(f"{train}: no stage has finished (no DONE marker), so there is no saved checkpoint yet")
    source = pair_source(ctx)
    if source is None:
        return sec.missing("no DiG pairs to answer: no dig eval run with a dataset, and no dataset folder")
    dataset, stage, origin = source
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        return sec.missing(f"inference needs torch and transformers (pip install 'dig-eval[hf]'): {e}")
    sec.note(f"{ctx.pairs} pair(s) from {origin}" + (f" (stage {stage})" if stage else "") +
             "; greedy answers of each checkpoint (hf adapter, the training run's task settings). "
             "Green: ground truth; red: predicted boxes.")
    runs: list[Path] = []
    for column, model, done in columns:
        folder = ctx.out / FOLDER / column
        cfg = eval_config(train, model, dataset, stage, ctx.pairs)
        key = {"checkpoint": str(model), "done": done, "config": cfg}
        try:
            ctx.say(f"prediction dynamics: {column} ({model})")
            ran = _run_column(ctx, folder, key, cfg)
            if not ran:
                ctx.say(f"prediction dynamics: {column}: answers cached in {folder}")
        except DigError as e:
            sec.missing(f"column {column} ({model}): {e}")
            continue
        runs.append(folder)
    if pending:
        sec.note("stages not finished (no checkpoint yet): " + ", ".join(pending))
    if not runs:
        return sec.missing("no checkpoint could answer the pairs (see above)")
    ctx.say("prediction dynamics sheet")
    prediction_sheet(runs, dataset, ctx.out / SHEET, n=ctx.pairs, benchmark=BENCH)
    sec.image(SHEET, "predicted boxes of each checkpoint on the same pairs",
              "Same pairs, one column per checkpoint (paper Fig. 4)", ctx.out / SHEET)
    return sec
