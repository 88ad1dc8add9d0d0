"""``grounding``: referring-expression grounding on renders of a DiG dataset, scored as RefCOCO is.

The samples are :func:`dig_core.grounding.grounding_samples` of the dataset's pairs - one object of
one image, described by its size, color, material and shape, with its exact instance-map box - and
everything else is the ``refcoco`` evaluator's: the prompt (dig-core's ``GROUNDING_PROMPT``; the
config's ``task.params.grounding_template`` where it sets one and ``prompt`` is not set: the wording a
base-model stage trained on, here shown one image as RefCOCO is), the model's own coordinate convention, the first box of
the answer, Acc@IoU 0.5 / 0.75 / 0.95 and mIoU.
The splits are the dataset's curriculum stages (``<stage>/acc@0.5`` ...). On a held-out DiG split
(e.g. the nano DiG-Bench) it measures what a model trained from scratch learnt of plain grounding,
and whether DiG training improves it (the paper's Table 3 transfer claim, in miniature).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from dig_core.config import instantiate
from dig_core.data.dataset import read_annotations
from dig_core.data.pairs import load_image
from dig_core.errors import DatasetError
from dig_core.grounding import grounding_samples

from dig_eval.evaluators.refcoco import RefCOCOConfig, RefCOCOEvaluator


@dataclass
class GroundingConfig(RefCOCOConfig):
    """``path``: the DiG dataset folder; ``splits``: its stages (empty = every stage)."""

    max_new_tokens: int = 32


class GroundingEvaluator(RefCOCOEvaluator):
    PLUGIN_NAME: ClassVar[str] = "grounding"
    Config: ClassVar[type] = GroundingConfig

    @classmethod
    def validate_config(cls, cfg: GroundingConfig) -> list[str]:
        errors = [e for e in super().validate_config(cfg) if not e.startswith("splits:")]
        if not cfg.path:
            errors.append("path: set the DiG dataset folder (evaluator.params.path=DIR)")
        return errors

    def bind(self, cfg: Any) -> None:
        """The config's task's ``grounding_template`` (``dig_core.grounding.grounding_prompt``'s) is
        the prompt unless ``prompt`` is set."""
        if cfg.task.name is None or self.config.prompt != RefCOCOConfig.prompt:
            return
        template = getattr(instantiate(cfg, "task", "task").config, "grounding_template", None)
        if template:
            self.config = replace(self.config, prompt=template)

    def split_rows(self) -> dict[str, list[dict[str, Any]]]:
        from PIL import Image

        c = self.config
        root = Path(c.path).expanduser()
        if not root.is_dir():
            raise DatasetError(f"grounding: evaluator.params.path: DiG dataset folder not found: {root}")
        records = read_annotations(root)
        by_id = {str(r["id"]): r for r in records}
        out: dict[str, list[dict[str, Any]]] = {}
        for s in grounding_samples(records):
            if c.splits and s.stage not in c.splits:
                continue
            rows = out.setdefault(s.stage, [])
            if c.limit and len(rows) >= c.limit:
                continue
            image = Image.fromarray(load_image(root, by_id[s.pair_id][s.image_key]))
            x0, y0, x1, y1 = s.box
            rows.append({"question_id": s.id, "image": image, "answer": [s.description],
                         "bbox": [x0, y0, x1 - x0, y1 - y0]})
        missing = [s for s in c.splits if s not in out]
        if missing or not out:
            raise DatasetError(f"grounding: {root} has no grounding samples in stage(s) {missing or 'any'} "
                               "(objects with a description of their own and visible boxes: visible_a / visible_b, "
                               "which datasets made before DiG recorded them lack; regenerate those)")
        return out
