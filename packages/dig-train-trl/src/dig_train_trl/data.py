"""A DiG dataset's pairs as training rows: the prompt the model sees, its two images, the label.

Each row holds the same conversation the ``openrlhf`` export produces (one user turn: image I_a,
image I_b, dig-core's task prompt for the pair's stage, in the model's coordinate convention with
the resized size for Qwen2.5-VL) and the label as dig-core's :class:`~dig_core.training.labels.Label` JSON.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dig_core.data.dataset import image_path, read_annotations
from dig_core.errors import DatasetError
from dig_core.training.labels import Label


@dataclass(frozen=True)
class Row:
    id: str
    stage: str
    text: str  # the task prompt
    images: tuple[str, ...]  # absolute paths of I_a, I_b (one image for a grounding row)
    label: Label
    #: the answer is the label's one box, not a box list (a grounding row)
    one_box: bool = False
    #: every image is mirrored left-right when opened (an ``hflip`` augmentation; the label's boxes
    #: are mirrored with it)
    mirrored: bool = False

    @property
    def target_boxes(self) -> list[list[float]]:
        """Ground-truth boxes in the convention the model answers in, before formatting: resized
        pixels when the label has a scale, else original pixels (the task converts rel coords)."""
        sx, sy = self.label.scale or (1.0, 1.0)
        return [[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for b in self.label.boxes]


def messages(text: str, n_images: int = 2) -> list[dict[str, Any]]:
    """One user turn: the images, then ``text`` (as :meth:`dig_core.models.vlm.VLProcessor.messages`)."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


def answer_task(cfg: Any, coords: str):
    """The config's task with the model's coordinate convention."""
    from dig_core.config import instantiate

    base = instantiate(cfg, "task", "task")
    return type(base)(replace(base.config, coords=coords))


def target_answer(task: Any, row: Row) -> str:
    """The exact answer the prompt asks for: the GT boxes written by ``task.format_boxes`` in the
    model's coordinates (resized pixels for Qwen2.5-VL)."""
    lab = row.label
    sx, sy = lab.scale or (1.0, 1.0)
    if row.one_box:
        from dig_core.grounding import grounding_answer

        return grounding_answer(task, row.target_boxes[0], lab.width * sx, lab.height * sy)
    return task.format_boxes(row.target_boxes, lab.width * sx, lab.height * sy)


#: how ``grounding_rows`` show a sample (``sft_grounding_images``)
GROUNDING_IMAGES = {
    "one": "the sample's own image, I_a or I_b (what RefCOCO and the grounding evaluator ask)",
    "pair": "I_a then I_b, as the DiG prompt shows them (a model trained from scratch on one image per "
            "prompt does not read two: docs/training.md)",
}

#: what ``sft_augment`` may name: each applies to a drawn row with probability 1/2
AUGMENTATIONS = {
    "hflip": "mirror every image of the row left-right, and its boxes with them (no prompt names a side)",
    "swap": "show a pair's I_b first and I_a second (a difference box covers the object in both images)",
}


def augment(row: Row, kinds: Sequence[str], rng: random.Random) -> Row:
    """``row`` with each augmentation of ``kinds`` (:data:`AUGMENTATIONS`) applied with probability 1/2;
    the label follows, so :func:`target_answer` and the reward stay exact."""
    if "swap" in kinds and len(row.images) == 2 and rng.random() < 0.5:
        row = replace(row, images=row.images[::-1])
    if "hflip" in kinds and rng.random() < 0.5:
        lab = row.label
        boxes = tuple((lab.width - b[2], b[1], lab.width - b[0], b[3]) for b in lab.boxes)
        row = replace(row, label=replace(lab, boxes=boxes), mirrored=not row.mirrored)
    return row


def load_rows(cfg: Any, dataset_dir: str | Path, processor: Any, stages: list[str] | None = None) -> dict[str, list[Row]]:
    """``{stage: [Row, ...]}`` of the dataset (only ``stages`` when given), in curriculum order.

    ``processor``: a :class:`dig_core.models.vlm.VLProcessor` (coords, resized size, scale)."""
    root = Path(dataset_dir).resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    records = read_annotations(root)
    if not records:
        raise DatasetError(f"{root}: the dataset has no pairs")
    defs = {st.name: st for st in cfg.curriculum.stages}
    task = answer_task(cfg, processor.coords)
    out: dict[str, list[Row]] = {}
    for rec in records:
        name = str(rec["stage"])
        if stages is not None and name not in stages:
            continue
        pid = str(rec["id"])
        stage = defs.get(name)
        if stage is None:
            if not isinstance(rec.get("count_in_prompt"), bool):
                raise DatasetError(f"pair {pid!r}: stage {name!r} is not in curriculum.stages {list(defs)} and the "
                                   "annotation has no count_in_prompt; use the config the dataset was generated with")
            stage = SimpleNamespace(count_in_prompt=rec["count_in_prompt"])
        width, height = int(rec["width"]), int(rec["height"])
        paths = (image_path(root, rec["image_a"]).resolve(), image_path(root, rec["image_b"]).resolve())
        for p in paths:
            if not p.is_file():
                raise DatasetError(f"pair {pid!r}: image not found: {p}")
        boxes = tuple(tuple(float(v) for v in b) for b in rec["boxes"])
        pw, ph = processor.prompt_size(width, height)
        text = task.stage_prompt(stage, len(boxes), pw, ph).strip()
        scale = processor.scale(width, height)
        label = Label(pid, name, len(boxes), boxes, float(width), float(height), processor.coords,
                      None if scale is None else (float(scale[0]), float(scale[1])))
        out.setdefault(name, []).append(Row(pid, name, text, (str(paths[0]), str(paths[1])), label))
    order = [n for n in defs if n in out] + sorted(n for n in out if n not in defs)
    return {n: out[n] for n in order}


def grounding_rows(cfg: Any, dataset_dir: str | Path, processor: Any, pair_ids: set[str] | None = None,
                   images: str = "one") -> list[Row]:
    """Grounding rows (``dig_core.grounding``) of the dataset's pairs (those in ``pair_ids`` when
    given): the prompt asks for one described object's box, the label holds that box. ``images``:
    ``one`` shows the sample's own image (I_a or I_b), ``pair`` shows I_a then I_b as the DiG prompt
    does (see :data:`GROUNDING_IMAGES`). ``processor``: a :class:`dig_core.models.vlm.VLProcessor`."""
    from dig_core.grounding import grounding_prompt, grounding_samples

    root = Path(dataset_dir).resolve()
    records = [r for r in read_annotations(root) if pair_ids is None or str(r["id"]) in pair_ids]
    by_id = {str(r["id"]): r for r in records}
    task = answer_task(cfg, processor.coords)
    out = []
    for s in grounding_samples(records):
        keys = ("image_a", "image_b") if images == "pair" else (s.image_key,)
        paths = tuple(image_path(root, by_id[s.pair_id][k]).resolve() for k in keys)
        for path in paths:
            if not path.is_file():
                raise DatasetError(f"pair {s.pair_id!r}: image not found: {path}")
        pw, ph = processor.prompt_size(s.width, s.height)
        scale = processor.scale(s.width, s.height)
        label = Label(s.id, s.stage, 1, (s.box,), float(s.width), float(s.height), processor.coords,
                      None if scale is None else (float(scale[0]), float(scale[1])))
        out.append(Row(s.id, s.stage, grounding_prompt(task, s.description, pw, ph), tuple(map(str, paths)), label,
                       one_box=True))
    return out


def grpo_dataset(rows: list[Row]):
    """A ``datasets.Dataset`` for TRL's GRPOTrainer: conversational ``prompt`` with two image
    parts, ``images`` (two images, decoded lazily from their files), ``label`` (JSON string), ``id``."""
    from datasets import Dataset
    from datasets import Image as ImageFeature

    try:
        from datasets import List as ListFeature
    except ImportError:  # datasets < 4
        from datasets import Sequence as ListFeature
    ds = Dataset.from_list([{"prompt": messages(r.text), "images": list(r.images), "label": r.label.to_json(),
                             "id": r.id} for r in rows])
    return ds.cast_column("images", ListFeature(ImageFeature()))


def open_images(row: Row):
    from PIL import Image

    out = []
    for p in row.images:
        with Image.open(p) as im:
            image = im.convert("RGB")
        out.append(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if row.mirrored else image)
    return out
