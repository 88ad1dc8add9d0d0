"""A DiG dataset as OpenRLHF prompt data: ``OUT/<stage>.jsonl`` per curriculum stage + ``OUT/export.json``.

One line per image pair, read by OpenRLHF 0.11's ``PromptDataset`` with ``--data.input_key prompt
--data.label_key label --data.image_key images --data.apply_chat_template``::

    {"prompt": "<image><image>You are given two images ...",
     "images": ["/abs/DATASET/images/<id>_a.png", "/abs/DATASET/images/<id>_b.png"],
     "label": "{\\"v\\":1,\\"id\\":...}",        # dig_core.training.labels.Label as a JSON string
     "datasource": "<stage>"}

The prompt is a plain string: ``PromptDataset`` turns each ``<image>`` into an image entry of one
user turn (``[image, image, text]``), exactly the conversation :meth:`VLProcessor.chat_prompt`
builds, so the token count checked here is the one OpenRLHF will see. The instruction is dig-core's
task prompt for the pair's stage (count given when the stage's ``count_in_prompt`` is set); the
coordinate convention follows the model family unless ``trainer.params.coords`` is set, and for
pixel answers (Qwen2.5-VL) it states the resized size the model sees and the label carries the
per-sample scale, both from the model's real processor.

Nothing is written until every pair has passed the checks (images present with the annotated size,
prompt + images within ``max_len - max_new_tokens``); each file is replaced atomically, so a rerun
overwrites a previous export.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from dig_core.config import instantiate, plugin_params
from dig_core.data.dataset import image_path, read_annotations, refuse_output_in_dataset
from dig_core.data.io import atomic_write_text, dumps_json, ensure_folder
from dig_core.errors import ConfigError, DatasetError
from dig_core.training.labels import Label
from omegaconf import OmegaConf

from dig_train_openrlhf.config import OpenRLHFConfig, model_folder_problem, validate

logger = logging.getLogger("dig_train_openrlhf.export")

#: written beside the stage files: what was exported and with which model settings
EXPORT_MANIFEST = "export.json"
#: the two image placeholders PromptDataset turns into image entries (I_a, then I_b)
IMAGE_PLACEHOLDERS = "<image><image>"
#: OpenRLHF flags that read these files
OPENRLHF_DATA_FLAGS = ("--data.input_key", "prompt", "--data.label_key", "label", "--data.image_key", "images",
                       "--data.apply_chat_template", "--data.max_images_per_prompt", "2")


class _Params:
    """``trainer.params`` schema and checks for :func:`dig_core.config.plugin_params` (the trainer's own)."""

    Config: ClassVar[type] = OpenRLHFConfig

    @classmethod
    def validate_config(cls, cfg: Any) -> list[str]:
        return validate(cfg)


def trainer_params(cfg: Any) -> OpenRLHFConfig:
    """``trainer.params`` of the config as :class:`OpenRLHFConfig` (``trainer.name`` must be unset
    or ``openrlhf``)."""
    ref = OmegaConf.select(cfg, "trainer")
    name = None if ref is None else ref.name
    if name not in (None, "openrlhf"):
        raise ConfigError(f"trainer.name is {name!r}; exporting for OpenRLHF reads the params of trainer "
                          "'openrlhf' (set trainer.name=openrlhf)")
    errors: list[str] = []
    params = plugin_params(_Params, None if ref is None else ref.params, "trainer.params", errors)
    if errors:
        raise ConfigError(errors)
    return params


def stage_file(out_dir: str | Path, stage: str) -> Path:
    """Where a stage's prompts go: ``OUT/<stage>.jsonl``."""
    if not stage or "/" in stage or "\\" in stage or stage in (".", ".."):
        raise DatasetError(f"stage name {stage!r} cannot be a file name")
    return Path(out_dir) / f"{stage}.jsonl"


def _stage_defs(cfg: Any) -> dict[str, Any]:
    return {st.name: st for st in cfg.curriculum.stages}


def export_dataset(cfg: Any, dataset_dir: str | Path, out_dir: str | Path, stages: Sequence[str] | None = None,
                   progress: bool = True) -> dict[str, Path]:
    """Write ``OUT/<stage>.jsonl`` for every stage of the dataset (or just ``stages``) and
    ``OUT/export.json``; returns ``{stage: path}`` in curriculum order.

    ``cfg``: the resolved DiG config (``task``, ``curriculum.stages`` and ``trainer.params``: model,
    coords, min_pixels, max_pixels, max_len, max_new_tokens are used). Raises a
    :class:`~dig_core.errors.DigError` (before writing anything) for a missing image, an image
    whose size differs from its annotation, an unknown stage, or a prompt over the token budget.
    """
    from dig_core.models.vlm import VLProcessor, check_token_budget
    from tqdm.auto import tqdm

    refuse_output_in_dataset(out_dir, dataset_dir)
    params = trainer_params(cfg)
    problem = model_folder_problem(str(params.model))
    if problem:
        raise ConfigError(problem)
    dataset_dir = Path(dataset_dir).resolve()
    records = read_annotations(dataset_dir, images=True)  # sound lines, decodable images of their size
    if not records:
        raise DatasetError(f"{dataset_dir}: the dataset has no pairs")

    defs = _stage_defs(cfg)
    found: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        found.setdefault(str(rec["stage"]), []).append(rec)
    order = [n for n in defs if n in found] + [n for n in found if n not in defs]
    if stages:
        unknown = [s for s in stages if s not in found]
        if unknown:
            raise DatasetError(f"{dataset_dir}: no pairs of stage(s) {unknown}; the dataset has {order}")
        order = [n for n in order if n in set(stages)]
    for name in order:
        stage_file(out_dir, name)  # a name that cannot be a file fails now

    processor = VLProcessor(params.model, params.min_pixels, params.max_pixels, params.coords)
    base = instantiate(cfg, "task", "task")
    task = type(base)(replace(base.config, coords=processor.coords))
    budget: dict[tuple, Any] = {}  # (text, size_a, size_b) -> TokenCount: same sizes, same tokens
    lines: dict[str, list[str]] = {n: [] for n in order}
    max_tokens = 0
    total = sum(len(found[n]) for n in order)
    with tqdm(total=total, desc="export-openrlhf", unit="pair", disable=not progress) as bar:
        for name in order:
            stage = defs.get(name)
            for rec in found[name]:
                pid = str(rec["id"])
                if stage is None:
                    if not isinstance(rec.get("count_in_prompt"), bool):
                        raise DatasetError(
                            f"pair {pid!r}: stage {name!r} is not in curriculum.stages "
                            f"{list(defs)} and the annotation has no count_in_prompt; add the stage to "
                            "curriculum.stages (use the config the dataset was generated with)")
                    stage_obj = SimpleNamespace(count_in_prompt=rec["count_in_prompt"])
                else:
                    stage_obj = stage
                width, height = int(rec["width"]), int(rec["height"])
                paths = [image_path(dataset_dir, rec[k]).resolve() for k in ("image_a", "image_b")]
                boxes = [list(b) for b in rec["boxes"]]
                pw, ph = processor.prompt_size(width, height)
                text = task.stage_prompt(stage_obj, len(boxes), pw, ph).strip()
                if "<image>" in text:
                    raise ConfigError("task prompt templates must not contain '<image>' (OpenRLHF reads it as an "
                                      "image placeholder)")
                key = (text, (width, height), (width, height))
                if key not in budget:
                    budget[key] = check_token_budget(processor, text, paths, params.max_len, params.max_new_tokens,
                                                     where=f"pair {pid!r} (stage {name})")
                max_tokens = max(max_tokens, budget[key].total)
                scale = processor.scale(width, height)
                label = Label(pid, name, len(boxes), tuple(tuple(b) for b in boxes), width, height,
                              processor.coords, None if scale is None else (float(scale[0]), float(scale[1])))
                row = {"prompt": IMAGE_PLACEHOLDERS + text, "images": [str(p) for p in paths],
                       "label": label.to_json(), "datasource": name}
                lines[name].append(json.dumps(row, ensure_ascii=False) + "\n")
                bar.update(1)

    _check_processor_defaults(processor, params, {(int(r["width"]), int(r["height"])) for n in order for r in found[n]})

    out = ensure_folder(out_dir)
    files: dict[str, Path] = {}
    for name in order:
        path = stage_file(out, name)
        atomic_write_text(path, "".join(lines[name]))
        files[name] = path.resolve()
    manifest = {
        "dataset": str(dataset_dir),
        "model": str(params.model),
        "family": processor.family,
        "coords": processor.coords,
        "min_pixels": processor.min_pixels,
        "max_pixels": processor.max_pixels,
        "max_len": params.max_len,
        "max_new_tokens": params.max_new_tokens,
        "max_prompt_tokens": max_tokens,
        "stages": {n: {"file": files[n].name, "pairs": len(lines[n])} for n in order},
        "openrlhf_flags": list(OPENRLHF_DATA_FLAGS),
    }
    previous = _read_manifest(out)
    if previous and isinstance(previous.get("stages"), dict):  # keep stages exported earlier
        manifest["stages"] = {**{k: v for k, v in previous["stages"].items() if k not in manifest["stages"]},
                              **manifest["stages"]}
    atomic_write_text(out / EXPORT_MANIFEST, dumps_json(manifest))
    return files


def _read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / EXPORT_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_processor_defaults(processor: Any, params: OpenRLHFConfig, sizes: set[tuple[int, int]]) -> None:
    """OpenRLHF and vLLM load the model folder's processor as saved (they take no min/max_pixels):
    when trainer.params.min_pixels / max_pixels resize the dataset's images differently from it, the
    prompts, labels and token budget would describe images the policy never sees, so refuse."""
    if params.min_pixels is None and params.max_pixels is None:
        return
    from dig_core.models.vlm import VLProcessor

    default = VLProcessor(params.model, coords=processor.coords)
    differ = [(w, h) for w, h in sorted(sizes) if default.resized_size(w, h) != processor.resized_size(w, h)]
    if differ:
        w, h = differ[0]
        raise ConfigError(
            f"trainer.params.min_pixels={params.min_pixels} / max_pixels={params.max_pixels} resize a {w}x{h} "
            f"image to {processor.resized_size(w, h)}, but the processor saved in {params.model} (the one OpenRLHF "
            f"and vLLM load) resizes it to {default.resized_size(w, h)}; save the model's preprocessor_config.json "
            "with these min_pixels / max_pixels before training, or unset trainer.params.min_pixels / max_pixels")
