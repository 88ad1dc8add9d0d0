"""The run report's parts: discovery by content, missing parts shown as missing, the dynamics cache,
the deltas chart (radar or bar), bad input, ``dig report --help``."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from dig_core.errors import DigError
from dig_eval.run_report import write_report
from dig_eval.run_report.discover import discover
from dig_eval.run_report.radar import delta_chart
from dig_eval.run_report.sections.benchmarks import delta_axes
from PIL import Image

from tests.eval.util import dig
from tests.helpers import write_dig_dataset


class _Page(HTMLParser):
    """Per section id: the missing boxes' text and the image sources."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._sid = None
        self._missing = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("section", "header") and a.get("id"):
            self._sid = a["id"]
            self.sections[self._sid] = {"missing": [], "images": []}
        elif tag == "div" and a.get("class") == "missing":
            self._missing = 1
            self.sections[self._sid]["missing"].append("")
        elif tag == "div" and self._missing:
            self._missing += 1
        elif tag == "img":
            self.sections[self._sid]["images"].append(a["src"])

    def handle_endtag(self, tag):
        if tag == "div" and self._missing:
            self._missing -= 1

    def handle_data(self, data):
        if self._missing:
            self.sections[self._sid]["missing"][-1] += data


def parse(page: Path) -> dict[str, dict]:
    p = _Page()
    p.feed(page.read_text())
    return p.sections


def test_only_a_dataset_shows_the_rest_missing(tmp_path):
    run = tmp_path / "run"
    write_dig_dataset(run / "data", n=3, size=(64, 48))
    page = write_report(run, progress=False)
    assert page == run / "report" / "report.html"
    s = parse(page)
    assert list(s) == ["run", "dataset", "rewards", "benchmarks", "dynamics"]
    assert s["dataset"]["missing"] == [] and s["dataset"]["images"] == ["dataset-sheet.png", "dataset-difficulty.png"]
    assert all((page.parent / im).is_file() for im in s["dataset"]["images"])
    assert "no training run found" in s["rewards"]["missing"][0]
    assert "no dig eval run found" in s["benchmarks"]["missing"][0]
    assert "no training run found" in s["dynamics"]["missing"][0]
    for sid in ("rewards", "benchmarks", "dynamics"):
        assert s[sid]["images"] == [] and s[sid]["missing"][0].startswith("missing:")
    assert not list(page.parent.glob(".*tmp"))


def test_training_not_started_yet(tmp_path):
    """A training run with its run.json but no stage finished: no curves, no checkpoints."""
    from dig_core.training import RunDir

    run = tmp_path / "run"
    write_dig_dataset(run / "data", n=2, size=(64, 48))
    RunDir(run / "train").write_manifest("trl", ["dig-1"], {"name": "dig", "params": {}}, model="/nowhere")
    s = parse(write_report(run, progress=False))
    assert "no rewards logged yet" in s["rewards"]["missing"][0]
    assert "no stage has finished" in s["dynamics"]["missing"][0]


def test_discovery_by_content(full_run, tmp_path):
    # folder names carry no meaning: rename them, the baseline is the eval of the base model
    run = tmp_path / "renamed"
    run.mkdir()
    for old, new in (("data", "d1"), ("train", "t"), ("eval-base", "zz-first"), ("eval-trained", "aa-second")):
        (run / new).symlink_to(full_run / old, target_is_directory=True)
    parts = discover(run)
    assert parts.data == run / "d1" and parts.train == run / "t"
    assert parts.evals == [run / "zz-first", run / "aa-second"]
    with pytest.raises(DigError, match="not a DiG dataset"):
        discover(run, data=run / "t")
    with pytest.raises(DigError, match="not a dig eval run"):
        discover(run, evals=[run / "d1"])


def test_dynamics_answers_are_cached(full_run, tmp_path, capsys):
    out = tmp_path / "r"
    write_report(full_run, out, pairs=2)
    first = capsys.readouterr().err
    columns = ["base", "dig-1", "dig-2", "dig-mix"]
    assert all(f"prediction dynamics: {c} (" in first for c in columns)
    preds = {c: out / "dynamics" / c / "dig" / "predictions.jsonl" for c in columns}
    assert all(len(p.read_text().splitlines()) == 2 for p in preds.values())
    stamp = {c: p.stat().st_mtime_ns for c, p in preds.items()}
    write_report(full_run, out, pairs=2)
    again = capsys.readouterr().err
    assert all(f"{c}: answers cached" in again for c in columns)
    assert {c: p.stat().st_mtime_ns for c, p in preds.items()} == stamp
    # another checkpoint behind a column (its key differs): only that column is answered again
    key = out / "dynamics" / "dig-2" / "key.json"
    key.write_text(json.dumps({**json.loads(key.read_text()), "checkpoint": "elsewhere"}))
    write_report(full_run, out, pairs=2)
    third = capsys.readouterr().err
    assert "dig-2: answers cached" not in third and "dig-1: answers cached" in third
    assert json.loads(key.read_text())["checkpoint"].endswith("dig-2/checkpoint")
    # the sheet: one row per pair, one column per checkpoint
    sheet = Image.open(out / "dynamics.png")
    assert sheet.width > 4 * 2 * 64 and sheet.height > 2 * 48


def test_deltas_chart_radar_or_bar(tmp_path):
    radar = delta_chart(["a", "b", "c"], {"trained": [1.0, -2.0, 3.0]}, tmp_path / "r.png")
    bar = delta_chart(["a", "b"], {"trained": [1.0, -2.0]}, tmp_path / "b.png")
    assert (radar, bar) == ("radar", "bar")
    for p in ("r.png", "b.png"):
        img = np.asarray(Image.open(tmp_path / p).convert("RGB"))
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 8
    with pytest.raises(DigError, match="2 deltas for 3 axes"):
        delta_chart(["a", "b", "c"], {"x": [1.0, 2.0]}, tmp_path / "x.png")
    names = ["base", "new"]
    rows = [("dig", "n", [6, 6]), ("dig", "f1", [10.0, 12.5]), ("pope", "acc", [50.0, None])]
    assert delta_axes(names, rows) == (["dig: f1"], {"new": [2.5]})


def test_bar_chart_when_few_metrics(full_run, tmp_path):
    """Eval runs sharing one float metric: the page shows a bar chart and says why."""
    runs = []
    for name in ("eval-base", "eval-trained"):
        copy = tmp_path / name
        shutil.copytree(full_run / name, copy)
        m = copy / "dig" / "metrics.json"
        data = json.loads(m.read_text())
        data["metrics"] = {"n": data["metrics"]["n"], "f1": data["metrics"]["f1"] + (5.0 if "trained" in name else 0)}
        m.write_text(json.dumps(data))
        runs.append(copy)
    res = dig("report", tmp_path, "--eval", runs[0], "--eval", runs[1], "--out", tmp_path / "out", "--no-progress")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "too few for a radar" in html and "+5.00" in html


def test_cli_help_and_bad_input(tmp_path):
    res = dig("report", "--help")
    assert res.exit_code == 0
    for word in ("RUN_DIR", "--out", "--data", "--train", "--eval", "--pairs", "dataset", "rewards", "benchmarks",
                 "dynamics", "missing"):
        assert word in res.output, word
    (tmp_path / "x").mkdir()
    res = dig("report", tmp_path, "--data", tmp_path / "x")
    assert res.exit_code == 1 and "not a DiG dataset" in res.output and str(tmp_path / "x") in res.output
    assert "Traceback" not in res.output
    res = dig("report", tmp_path, "--pairs", "0")
    assert res.exit_code == 2 and "--pairs" in res.output


def test_one_eval_run_has_no_deltas(full_run, tmp_path):
    page = write_report(full_run, tmp_path / "one", evals=[full_run / "eval-trained"], progress=False)
    s = parse(page)
    assert s["benchmarks"]["images"] == [] and "only one eval run" in s["benchmarks"]["missing"][0]
    html = page.read_text()
    assert "eval-trained (baseline)" in html and "delta eval-" not in html
    assert s["dynamics"]["images"] == ["dynamics.png"]  # the cache of the full report is elsewhere: answered anew
