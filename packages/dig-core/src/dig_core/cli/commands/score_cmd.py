"""``dig score``: reward every prediction of a model against a dataset's annotations."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from dig_core.cli.options import config_option, overrides_argument
from dig_core.config import instantiate, load_config
from dig_core.data.dataset import read_annotations, refuse_output_in_dataset
from dig_core.data.io import atomic_write_text, ensure_folder
from dig_core.data.predictions import Prediction, PredictionsError, read_predictions
from dig_core.reward import SCORES, RewardResult
from dig_core.scoring import found_boxes, score_answer
from dig_core.training.labels import Label

#: the table's columns: the reward's scores (:data:`dig_core.reward.SCORES`)
TABLE_METRICS = SCORES
MAX_LISTED = 10  # ids listed per problem in a report


def _listed(ids: Sequence[str]) -> str:
    head = ", ".join(repr(i) for i in ids[:MAX_LISTED])
    return head + (f", ... ({len(ids) - MAX_LISTED} more)" if len(ids) > MAX_LISTED else "")


@dataclass
class Group:
    n: int = 0
    gt_boxes: int = 0
    gt_found: int = 0

    def __post_init__(self) -> None:
        self.sums = dict.fromkeys(TABLE_METRICS, 0.0)

    def add(self, result: RewardResult, gt_boxes: int, gt_found: int) -> None:
        self.n += 1
        self.gt_boxes += gt_boxes
        self.gt_found += gt_found
        for k in TABLE_METRICS:
            self.sums[k] += getattr(result, k)

    def row(self, name: str) -> list[str]:
        found = f"{self.gt_found / self.gt_boxes:.3f}" if self.gt_boxes else "-"
        return [name, str(self.n)] + [f"{self.sums[k] / self.n:.3f}" for k in TABLE_METRICS] + [found]


def format_table(groups: dict[str, Group]) -> str:
    """Mean components per group; ``found`` = fraction of the group's difference boxes matched."""
    header = ["group", "n", *TABLE_METRICS, "found"]
    rows = [header] + [g.row(name) for name, g in groups.items() if g.n]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    )


def score_dataset(task, reward, preds: list[Prediction], annotations: dict[str, dict[str, Any]]):
    """Score the predictions whose id is in ``annotations``; returns ``(scored lines, groups)``."""
    out: list[str] = []
    groups: dict[str, Group] = defaultdict(Group)
    groups["all"]  # first row of the table
    for p in preds:
        ann = annotations.get(p.id)
        if ann is None:
            continue
        gt = ann["boxes"]
        label = Label(p.id, ann.get("stage", ""), len(gt), gt, ann["width"], ann["height"],
                      getattr(task.config, "coords", ""), p.scale)
        try:
            scored = score_answer(task, reward, p.completion, label)
        except ValueError as e:
            raise PredictionsError(f"prediction {p.id!r} (line {p.lineno}): {e}") from None
        res = scored.result
        out.append(json.dumps({"id": p.id, **res.as_dict()}) + "\n")
        found = found_boxes(reward, scored.boxes, gt)
        types = [d.get("type", "?") for d in ann.get("differences", [])]
        if len(types) != len(gt):
            types = ["?"] * len(gt)
        groups["all"].add(res, len(gt), len(found))
        groups[f"k={len(gt)}"].add(res, len(gt), len(found))
        for t in sorted(set(types)):
            idx = [j for j, tj in enumerate(types) if tj == t]
            groups[f"type={t}"].add(res, len(idx), sum(j in found for j in idx))
    ordered = {"all": groups.pop("all")}
    ordered.update(sorted(((k, g) for k, g in groups.items() if k.startswith("k=")), key=lambda kv: int(kv[0][2:])))
    ordered.update(sorted((k, g) for k, g in groups.items() if k.startswith("type=")))
    return out, ordered


@click.command()
@click.argument("predictions", type=click.Path(dir_okay=False))
@click.option("--dataset", "-d", "dataset_dir", required=True, type=click.Path(file_okay=False),
              help="Dataset folder (only its annotation lines are read, not the images).")
@click.option("--out", "-o", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write one JSON line of reward components per scored sample here.")
@click.option("--strict", is_flag=True, help="Fail on unknown, duplicate or missing ids instead of reporting them.")
@config_option
@overrides_argument
def score(predictions: str, dataset_dir: str, out_path: str | None, strict: bool, config_path: str | None,
          overrides: tuple[str, ...]) -> None:
    """Score PREDICTIONS.jsonl (lines {"id", "completion", optional "scale"}) against a dataset.

    The task (answer parser) and reward come from the config's `task` and `reward` sections.
    Prints mean components overall, by number of differences (k) and by perturbation type; with
    --out, writes per-sample components (format, precision, recall, f1, miou, n_pred, n_gt,
    n_match, reward). "scale" is the model-input / original size (Qwen2.5-VL pixel answers).

    Example: dig score preds.jsonl --dataset data/dig-mix --out scored.jsonl reward.params.alpha=0.2
    """
    if out_path is not None:
        refuse_output_in_dataset(out_path, dataset_dir)
    cfg = load_config(config_path, overrides, sections=("task", "reward"))
    task = instantiate(cfg, "task", "task")
    reward = instantiate(cfg, "reward", "reward")
    annotations = {rec["id"]: rec for rec in read_annotations(dataset_dir)}
    preds, duplicates = read_predictions(predictions)

    unknown = [p.id for p in preds if p.id not in annotations]
    have = {p.id for p in preds}
    missing = [i for i in annotations if i not in have]
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} prediction id(s) not in the dataset (not scored): {_listed(unknown)}")
    if duplicates:
        desc = [f"{k} (lines {', '.join(map(str, v))})" for k, v in duplicates.items()]
        problems.append(f"{len(duplicates)} id(s) predicted more than once (first line scored): {_listed(desc)}")
    if missing:
        problems.append(f"{len(missing)} dataset sample(s) without a prediction (not scored): {_listed(missing)}")
    if problems and strict:
        raise PredictionsError(f"{predictions}: " + "; ".join(problems))
    for msg in problems:
        click.echo(f"warning: {msg}", err=True)

    lines, groups = score_dataset(task, reward, preds, annotations)
    if out_path is not None:
        ensure_folder(Path(out_path).parent)
        atomic_write_text(out_path, "".join(lines))  # temp file + os.replace
    click.echo(f"scored {len(lines)} of {len(annotations)} samples ({predictions} vs {dataset_dir})")
    if lines:
        click.echo(format_table(groups))
