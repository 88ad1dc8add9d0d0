"""VSR (Visual Spatial Reasoning): is a caption about the spatial relation of two objects true of
the image? Accuracy.

Data: the published ``cambridgeltl/vsr_random`` / ``vsr_zeroshot`` split files (``test.jsonl``, or the
Hub's parquet conversion of them) with ``image`` (a COCO file name), ``caption``, ``label`` (1 true,
0 false) and ``relation``, plus the COCO 2017 images in a folder (``params.images``; default:
``images/`` beside the split files). Rows whose ``image`` is an ``{bytes, path}`` struct carry their
picture and need no folder. The answer is read by :func:`dig_eval.evaluators.yesno.true_false`
(true/yes vs false/no); VSR's paper evaluates fine-tuned classifiers, there is no official prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, BenchmarkEvaluator, accuracy, pct
from dig_eval.evaluators.parquet import Layout, LazyImage, unique_ids
from dig_eval.evaluators.yesno import true_false

PROMPT = 'Is the following statement about the image true or false? "{caption}" Answer with true or false.'


@dataclass
class VSRConfig(BenchmarkConfig):
    max_new_tokens: int = 16
    #: folder of the COCO images named in the ``image`` column (empty = ``images/`` beside the split files)
    images: str = ""
    #: the question ({caption})
    prompt: str = PROMPT


class VSREvaluator(BenchmarkEvaluator):
    PLUGIN_NAME: ClassVar[str] = "vsr"
    Config: ClassVar[type] = VSRConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "vsr", {"image": "any", "caption": "string", "label": "any"},
        "cambridgeltl/vsr_random (or vsr_zeroshot) test.jsonl + COCO images/", optional=("relation",))
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {
        s: (f"{s}.jsonl", f"{s}-*.parquet", f"{s}.parquet", f"json-{s}.parquet") for s in ("test", "dev", "train")}
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ("test",)

    @classmethod
    def validate_config(cls, cfg: VSRConfig) -> list[str]:
        errors = super().validate_config(cfg)
        try:
            cfg.prompt.format(caption="x")
        except (KeyError, IndexError, ValueError) as e:
            errors.append(f"prompt: bad placeholder {e}; allowed: {{caption}}")
        return errors

    def samples(self, model: ModelAdapter) -> list[Sample]:
        c = self.config
        out = []
        for split, fs in self.split_files().items():
            folder = Path(c.images).expanduser() if c.images else fs[0].parent / "images"
            rows = self.read_split(fs)
            ids = unique_ids([f"{split}/{Path(str(r['image'])).stem if not isinstance(r['image'], LazyImage) else i}/"
                              f"{r['caption']}" for i, r in enumerate(rows)])
            for sid, r in zip(ids, rows):
                label = r["label"]
                if str(label).strip().lower() not in ("0", "1", "true", "false"):
                    raise self.LAYOUT.error(fs[0], f"row {sid}: label must be 1 (true) or 0 (false), got {label!r}")
                image = r["image"]
                if isinstance(image, dict):  # a {bytes, path} struct read from jsonl: not expected
                    raise self.LAYOUT.error(fs[0], f"row {sid}: image must be a file name")
                if not isinstance(image, LazyImage):
                    image = folder / str(image)
                    if not image.is_file():
                        raise self.LAYOUT.error(image, f"row {sid}: image not found; set params.images to the folder "
                                                       "of the COCO 2017 images")
                    image = str(image)
                truth = str(label).strip().lower() in ("1", "true")
                out.append(Sample(Request(self.PLUGIN_NAME, sid, c.prompt.format(caption=r["caption"]), [image],
                                          c.max_new_tokens),
                                  {"split": split, "label": truth, "relation": r.get("relation")}))
        return out

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        t = sample.target
        pred = true_false(completion)
        return {"split": t["split"], "relation": t["relation"], "pred": pred, "label": t["label"],
                "correct": pred is not None and pred == t["label"]}

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        n = len(records)
        return {"accuracy": accuracy(records), "unclear": pct(sum(1 for r in records if r["pred"] is None), n),
                "n": float(n)}
