"""Tiny benchmark files in the published layouts (what ``datasets`` writes for the Hugging Face
copies lmms-eval uses: ``data/<split>-00000-of-00001.parquet``, images as ``{bytes, path}`` structs),
and a fixed-answer model adapter, for the benchmark and lmms-eval bridge tests."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dig_eval.adapters.base import ModelAdapter, Request

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def image_cell(width: int = 64, height: int = 48, name: str = "img.png") -> dict[str, Any]:
    return {"bytes": png(width, height), "path": name}


def hf_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the ``huggingface`` metadata ``datasets`` writes: its features, with the
    ``{bytes, path}`` columns declared as ``Image`` (so ``load_dataset`` decodes them)."""
    import datasets

    features = datasets.Features.from_arrow_schema(schema)
    for f in schema:
        if f.type == IMAGE:
            features[f.name] = datasets.Image()
    meta = {b"huggingface": json.dumps({"info": {"features": features.to_dict()}}).encode()}
    return schema.with_metadata(meta)


def write_parquet(path: Path, rows: Sequence[dict[str, Any]], schema: pa.Schema, row_group_size: int = 2) -> Path:
    """``rows`` as one parquet file as ``datasets`` publishes it (features metadata; small row
    groups, to exercise reading across them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(list(rows), schema=hf_schema(schema))
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


REFCOCO_SCHEMA = pa.schema([("question_id", pa.string()), ("image", IMAGE), ("question", pa.string()),
                            ("answer", pa.list_(pa.string())), ("segmentation", pa.list_(pa.float32())),
                            ("bbox", pa.list_(pa.float32())), ("iscrowd", pa.int8()), ("file_name", pa.string())])

POPE_SCHEMA = pa.schema([("id", pa.string()), ("question_id", pa.string()), ("question", pa.string()),
                         ("answer", pa.string()), ("image_source", pa.string()), ("image", IMAGE),
                         ("category", pa.string())])

HALLUSION_SCHEMA = pa.schema([(c, pa.string()) for c in (
    "category", "subcategory", "visual_input", "set_id", "figure_id", "sample_note", "question_id", "question",
    "gt_answer_details", "gt_answer", "filename")] + [("image", IMAGE)])

MMVP_SCHEMA = pa.schema([("Index", pa.int32()), ("Question", pa.string()), ("Options", pa.string()),
                         ("Correct Answer", pa.string()), ("image", IMAGE)])

CVBENCH_SCHEMA = pa.schema([("idx", pa.int32()), ("type", pa.string()), ("task", pa.string()), ("image", IMAGE),
                            ("question", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.string()),
                            ("prompt", pa.string()), ("filename", pa.string()), ("source", pa.string()),
                            ("source_dataset", pa.string()), ("source_filename", pa.string()),
                            ("target_class", pa.string()), ("target_size", pa.int64()),
                            ("bbox", pa.list_(pa.list_(pa.float64())))])

VSTAR_SCHEMA = pa.schema([("image", IMAGE), ("text", pa.string()), ("label", pa.string()),
                          ("question_id", pa.int64()), ("category", pa.string())])

HRBENCH_SCHEMA = pa.schema([("index", pa.int64()), ("question", pa.string()), ("answer", pa.string()),
                            ("category", pa.string()), ("A", pa.string()), ("B", pa.string()), ("C", pa.string()),
                            ("D", pa.string()), ("cycle_category", pa.string()), ("image", pa.string())])


def b64_png(width: int = 96, height: int = 64) -> str:
    return base64.b64encode(png(width, height)).decode()


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class FixedAdapter(ModelAdapter):
    """A model that answers each request id with a given string (others: ``default``); its box
    convention and per-image scale are set by the test. Records every request it sees."""

    PLUGIN_NAME = "fixed-answers"

    def __init__(self, answers: dict[str, str], coords: str = "pixels", scale: tuple[float, float] | None = None,
                 default: str = ""):
        super().__init__()
        self.answers, self._coords, self._scale, self.default = answers, coords, scale, default
        self.seen: list[Request] = []

    def generate(self, requests: Sequence[Request]) -> list[str]:
        self.seen.extend(requests)
        return [self.answers.get(r.id, self.default) for r in requests]

    def coords(self) -> str:
        return self._coords

    def scale(self, width: int, height: int) -> tuple[float, float] | None:
        return self._scale


def run(evaluator, model: ModelAdapter) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """samples -> generate -> score -> metrics, the runner's order."""
    samples = evaluator.samples(model)
    completions = model.generate([s.request for s in samples])
    records = [evaluator.score(s, c, model) for s, c in zip(samples, completions)]
    return records, evaluator.metrics(records)
