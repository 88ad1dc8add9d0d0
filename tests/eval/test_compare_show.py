"""``dig eval compare`` (runs side by side with deltas) and ``dig show-predictions`` (the PNG)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dig_core.data.dataset import read_annotations
from PIL import Image

from tests.eval.util import dig, dig_eval, write_jsonl
from tests.helpers import write_dig_dataset


def _run(tmp_path, ds, name, answers):
    preds = write_jsonl(tmp_path / f"{name}.jsonl", [{"benchmark": "dig", "id": k, "completion": v}
                                                     for k, v in answers.items()])
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "model.params.coords=pixels",
                   "evaluator.name=dig", f"evaluator.params.dataset={ds}", "--out", tmp_path / name, "--no-progress")
    assert res.exit_code == 0, res.output
    return tmp_path / name


@pytest.fixture
def runs(tmp_path):
    ds = write_dig_dataset(tmp_path / "ds", n=3, size=(96, 64), k=1)
    gt = {rec["id"]: rec["boxes"] for rec in read_annotations(ds)}
    perfect = {k: json.dumps(v) for k, v in gt.items()}
    partial = {k: (json.dumps(v) if i == 0 else "no idea") for i, (k, v) in enumerate(gt.items())}
    return ds, gt, _run(tmp_path, ds, "base", partial), _run(tmp_path, ds, "step-400", perfect)


def test_compare_table(runs, tmp_path):
    _, _, base, step = runs
    out = tmp_path / "tables" / "cmp.md"
    res = dig_eval("compare", base, step, "--out", out)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["benchmark", "metric", "base", "step-400"]
    rows = {c[1]: c for c in ([x.strip() for x in line.split("|")[1:-1]] for line in lines[2:] if line.startswith("|"))}
    assert rows["f1"][2] == "33.33" and rows["f1"][3] == "100.00 (+66.67)" and rows["f1"][0] == "dig"
    assert rows["format"][3] == "100.00 (+66.67)" and rows["n"][3] == "3"  # counts get no delta
    assert rows["reward"][2] == "0.333" and rows["reward"][3] == "1.00 (+0.667)"
    assert "f1/k=1" not in rows
    assert out.read_text() == res.output
    res = dig_eval("compare", base, step, "--breakdown")
    assert "acc@0.5/type=" in res.output and "f1/k=1" in res.output
    res = dig_eval("compare", step, base)
    assert "(-66.67)" in res.output
    res = dig_eval("compare", base, tmp_path / "nothing")
    assert res.exit_code == 1 and "nothing" in res.output
    res = dig_eval("compare", base, "-b", "pope")
    assert res.exit_code == 1 and "pope" in res.output


def test_show_predictions_png(runs, tmp_path):
    ds, gt, base, step = runs
    out = tmp_path / "fig" / "fig4.png"
    res = dig("show-predictions", base, step, "--dataset", ds, "--out", out, "--n", "2")
    assert res.exit_code == 0, res.output
    assert "drew 2 pairs x 2 run(s)" in res.output
    img = np.asarray(Image.open(out).convert("RGB"))
    # 2 rows of (caption 16 + cell 16 + 64) + legend 18 + gap 4; 2 cells of 2*96+6 + gap 12
    assert img.shape == (18 + 2 * 96 + 4, 2 * (2 * 96 + 6) + 12, 3)
    red = np.all(img == (255, 48, 48), axis=-1)
    cell_w = 2 * 96 + 6 + 12
    row1 = slice(18 + 32, 18 + 96)
    assert red[row1, :cell_w].sum() > 0 and red[row1, cell_w:].sum() > 0  # both runs answered pair 0
    row2 = slice(18 + 96 + 4 + 32, 18 + 2 * 96 + 4)
    assert red[row2, :cell_w].sum() == 0 and red[row2, cell_w:].sum() > 0  # base gave no box for pair 1
    assert not list(out.parent.glob(".*tmp"))
    ids = list(gt)[2]
    res = dig("show-predictions", step, "--dataset", ds, "--out", out, "--ids", ids)
    assert res.exit_code == 0 and "drew 1 pairs x 1 run(s)" in res.output
    res = dig("show-predictions", step, "--dataset", ds, "--out", out, "--ids", "zz")
    assert res.exit_code == 1 and "zz" in res.output
    res = dig("show-predictions", tmp_path / "ds", "--dataset", ds, "--out", out)
    assert res.exit_code == 1 and "scores.jsonl" in res.output
