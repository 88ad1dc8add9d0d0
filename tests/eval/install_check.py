"""What ``.ci/eval-install-check`` runs inside a fresh venv holding only ``pip install
packages/dig-core packages/dig-render-blender 'packages/dig-eval[data]'``: the renderer's numpy
(< 2, bpy's pin) beside dig-eval's pyarrow, then ``dig eval`` (the installed entry point) on a tiny
POPE parquet in the published layout. Exits non-zero with the reason when any of it fails.

``python -m tests.eval.install_check WORKDIR`` from the repository root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROWS = [("adversarial", "1", "yes", "Yes, there is."), ("popular", "1", "no", "No."), ("random", "1", "no", "yes")]


def main(work: Path) -> None:
    import bpy  # noqa: F401 - the renderer's Blender must import beside pyarrow
    import numpy
    import pyarrow
    import pyarrow.parquet as pq

    from tests.eval import bench_files as bf

    print(f"numpy {numpy.__version__}, pyarrow {pyarrow.__version__}, bpy {bpy.app.version_string}")
    data = work / "POPE" / "data" / "test-00000-of-00001.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": str(i), "question_id": q, "question": f"Is there a {q}?", "answer": a, "image_source": "coco",
             "image": bf.image_cell(), "category": c} for i, (c, q, a, _) in enumerate(ROWS)]
    pq.write_table(pyarrow.Table.from_pylist(rows, schema=bf.POPE_SCHEMA), data)
    answers = bf.write_jsonl(work / "answers.jsonl", [{"benchmark": "pope", "id": f"{c}/{q}", "completion": text}
                                                      for c, q, _, text in ROWS])
    dig = Path(sys.executable).with_name("dig")
    cmd = [str(dig), "eval", "model.name=predictions", f"model.params.path={answers}", "evaluator.name=pope",
           f"evaluator.params.path={work / 'POPE'}", "--out", str(work / "run"), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"dig eval failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    m = json.loads((work / "run" / "pope" / "metrics.json").read_text())["metrics"]
    if abs(m["accuracy"] - 200 / 3) > 1e-6 or m["n"] != 3:
        sys.exit(f"POPE from parquet: expected accuracy 66.67 over 3, got {m}")
    print(f"dig eval pope from parquet: accuracy {m['accuracy']:.2f} over {int(m['n'])} questions")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.eval.install_check WORKDIR")
    main(Path(sys.argv[1]))
