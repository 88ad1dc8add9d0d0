"""Helpers of the dig-eval tests: hand-made DiG annotation folders, predictions files, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.data.dataset import ANNOTATIONS


def ann(pid: str, boxes: list[list[float]], types: list[str], width: int = 100, height: int = 100,
        stage: str = "s", count_in_prompt: bool = True) -> dict[str, Any]:
    """One annotation line with every ANNOTATION_KEY (images are never opened by these tests)."""
    return {"id": pid, "stage": stage, "image_a": f"images/{pid}_a.png", "image_b": f"images/{pid}_b.png",
            "width": width, "height": height, "boxes": boxes,
            "differences": [{"type": t, "object_id": j, "before": {}, "after": {}, "box": b}
                            for j, (t, b) in enumerate(zip(types, boxes))],
            "count_in_prompt": count_in_prompt, "scene_a": {}, "scene_b": {}, "seed": 0}


def write_annotations(root: Path, anns: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ANNOTATIONS).write_text("".join(json.dumps(a) + "\n" for a in anns))
    return root


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def dig_eval(*args: Any):
    """``dig eval ARGS`` through the real CLI (plugins from entry points)."""
    return CliRunner().invoke(load_commands(), ["eval", *map(str, args)])


def dig(*args: Any):
    return CliRunner().invoke(load_commands(), [*map(str, args)])


def metrics(run: Path, bench: str = "dig") -> dict[str, Any]:
    return json.loads((run / bench / "metrics.json").read_text())
