"""The ``dig`` evaluator's metrics against hand-computed cases, through the ``predictions`` adapter
and the real ``dig eval`` CLI; coordinate conventions (pixels, rel1000, per-line and processor scale)."""

from __future__ import annotations

import json

import pytest

from tests.eval.util import ann, dig_eval, metrics, write_annotations, write_jsonl

# 100x100 pairs; IoUs: p0 1.0 | p1 0.5 and 1.0 (+1 extra box) | p2 nothing | p3 0.8 and a miss
PAIRS = [
    ann("p0", [[10, 10, 30, 30]], ["color"]),
    ann("p1", [[0, 0, 20, 20], [50, 50, 70, 70]], ["add", "remove"]),
    ann("p2", [[40, 40, 60, 60]], ["color"]),
    ann("p3", [[0, 0, 10, 10], [20, 0, 30, 10]], ["shape", "color"]),
]
ANSWERS_PX = {
    "p0": "[[10, 10, 30, 30]]",
    "p1": "<think>two</think>```json\n[[0, 0, 20, 10], [50, 50, 70, 70], [90, 90, 99, 99]]\n```",
    "p2": "I see no difference.",
    "p3": '[{"bbox_2d": [0, 0, 10, 8]}]',
}


def _rel1000(text: str) -> str:
    """The same answer with every pixel number x10 (100x100 images: pixels -> 0-1000)."""
    import re

    return re.sub(r"\d+", lambda m: str(int(m.group()) * 10), text.replace("bbox_2d", "bbox_Q")).replace("bbox_Q", "bbox_2d")


@pytest.fixture
def dataset(tmp_path):
    return write_annotations(tmp_path / "ds", PAIRS)


def _run(tmp_path, dataset, answers, *extra, name="run"):
    preds = write_jsonl(tmp_path / f"{name}.jsonl",
                        [{"benchmark": "dig", "id": k, "completion": v} for k, v in answers.items()])
    out = tmp_path / name
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "evaluator.name=dig",
                   f"evaluator.params.dataset={dataset}", "--out", out, "--no-progress", *extra)
    assert res.exit_code == 0, res.output
    return out


def test_hand_computed_metrics(tmp_path, dataset):
    run = _run(tmp_path, dataset, ANSWERS_PX, "model.params.coords=pixels")
    m = metrics(run)["metrics"]
    approx = lambda v: pytest.approx(v, abs=1e-3)  # noqa: E731
    assert m["n"] == 4
    assert m["f1"] == approx(100 * (1 + 0.8 + 0 + 2 / 3) / 4)
    assert m["precision"] == approx(100 * (1 + 2 / 3 + 0 + 1) / 4)
    assert m["recall"] == approx(100 * (1 + 1 + 0 + 0.5) / 4)
    assert m["miou"] == approx(100 * (1 + 0.75 + 0 + 0.8) / 4)
    assert m["format"] == approx(75.0)
    # 6 GT boxes with assigned IoUs 1, .5, 1, 0, .8, 0
    assert m["acc@0.5"] == approx(100 * 4 / 6)
    assert m["acc@0.75"] == approx(100 * 3 / 6)
    assert m["acc@0.95"] == approx(100 * 2 / 6)
    assert m["exact@0.5"] == approx(25.0)
    rewards = [1.0, 0.9 * (0.4 + 0.375) + 0.1, 0.0, 0.9 * (1 / 3 + 0.4) + 0.1]
    assert m["reward"] == pytest.approx(sum(rewards) / 4, abs=1e-6)
    # by number of differences
    assert m["n/k=1"] == 2 and m["n/k=2"] == 2
    assert m["f1/k=1"] == approx(50.0) and m["f1/k=2"] == approx(100 * (0.8 + 2 / 3) / 2)
    assert m["acc@0.5/k=2"] == approx(75.0) and m["acc@0.75/k=2"] == approx(50.0)
    # by edit type: the GT boxes of that type
    assert m["n_boxes/type=color"] == 3 and m["recall/type=color"] == approx(100 / 3)
    assert m["acc@0.5/type=add"] == approx(100.0) and m["acc@0.75/type=add"] == approx(0.0)
    assert m["acc@0.75/type=shape"] == approx(100.0) and m["acc@0.95/type=shape"] == approx(0.0)
    assert m["acc@0.95/type=remove"] == approx(100.0)
    scores = {json.loads(x)["id"]: json.loads(x) for x in (run / "dig" / "scores.jsonl").read_text().splitlines()}
    assert scores["p1"]["gt_iou"] == [0.5, 1.0] and scores["p1"]["n_pred"] == 3
    assert scores["p3"]["pred"] == [[0.0, 0.0, 10.0, 8.0]] and scores["p3"]["gt_found"] == [True, False]
    md = (run / "results.md").read_text()
    assert "## dig" in md and "| type=color" in md and "| k=2" in md


def test_reward_section_sets_matching(tmp_path, dataset):
    """The evaluator uses the pipeline's reward config (min_match_iou) like training does."""
    run = _run(tmp_path, dataset, ANSWERS_PX, "model.params.coords=pixels", "reward.params.min_match_iou=0.6")
    m = metrics(run)["metrics"]
    # p1's 0.5-IoU box no longer counts: p=1/3, r=1/2 -> F1 0.4
    assert m["f1/k=2"] == pytest.approx(100 * (0.4 + 2 / 3) / 2, abs=1e-3)
    assert m["acc@0.5"] == pytest.approx(100 * 4 / 6, abs=1e-3)  # acc@t does not depend on it


def test_rel1000_gives_the_same_metrics(tmp_path, dataset):
    px = metrics(_run(tmp_path, dataset, ANSWERS_PX, "model.params.coords=pixels", name="px"))["metrics"]
    rel = {k: _rel1000(v) for k, v in ANSWERS_PX.items()}
    assert rel["p0"] == "[[100, 100, 300, 300]]"
    r = metrics(_run(tmp_path, dataset, rel, "model.params.coords=rel1000", name="rel"))["metrics"]
    assert r == px
    # the convention is applied as configured, never guessed: rel1000 numbers read as pixels miss
    wrong = metrics(_run(tmp_path, dataset, rel, "model.params.coords=pixels", name="wrong"))["metrics"]
    assert wrong["acc@0.5"] == 0.0


def test_non_square_scales(tmp_path):
    ds = write_annotations(tmp_path / "ds", [ann("w", [[20, 10, 60, 30]], ["size"], width=200, height=100)])
    cases = {
        "px": ("pixels", {"completion": "[[20, 10, 60, 30]]"}),
        "scaled": ("pixels", {"completion": "[[40, 40, 120, 120]]", "scale": [2, 4]}),
        "scalar": ("pixels", {"completion": "[[10, 5, 30, 15]]", "scale": 0.5}),
        "rel1000": ("rel1000", {"completion": "[[100, 100, 300, 300]]"}),
        "rel1": ("rel1", {"completion": "[[0.1, 0.1, 0.3, 0.3]]"}),
    }
    for name, (coords, row) in cases.items():
        preds = write_jsonl(tmp_path / f"{name}.jsonl", [{"benchmark": "dig", "id": "w", **row}])
        res = dig_eval("model.name=predictions", f"model.params.path={preds}", f"model.params.coords={coords}",
                       "evaluator.name=dig", f"evaluator.params.dataset={ds}", "--out", tmp_path / name, "--no-progress")
        assert res.exit_code == 0, res.output
        assert metrics(tmp_path / name)["metrics"]["acc@0.95"] == 100.0, name


def test_processor_scale_for_pixel_answers(tmp_path, tiny_qwen25_vl):
    """A Qwen2.5-VL answer in pixels of its resized input: the scale comes from its real processor."""
    from dig_core.models.vlm import VLProcessor

    ds = write_annotations(tmp_path / "ds", [ann("q", [[14, 14, 70, 42]], ["add"], width=200, height=120)])
    sx, sy = VLProcessor(tiny_qwen25_vl).scale(200, 120)
    assert (sx, sy) != (1.0, 1.0)
    box = [round(14 * sx), round(14 * sy), round(70 * sx), round(42 * sy)]
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "q", "completion": json.dumps([box])}])
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "model.params.benchmark=dig",
                   f"model.params.processor={tiny_qwen25_vl}", "evaluator.name=dig",
                   f"evaluator.params.dataset={ds}", "--out", tmp_path / "run", "--no-progress")
    assert res.exit_code == 0, res.output
    data = metrics(tmp_path / "run")
    assert data["metrics"]["acc@0.75"] == 100.0
    assert data["model"]["coords"] == "pixels" and data["model"]["processor"] == str(tiny_qwen25_vl)
    score = json.loads((tmp_path / "run" / "dig" / "scores.jsonl").read_text())
    assert score["scale"] == [pytest.approx(sx), pytest.approx(sy)]


def test_missing_answers_wrong_excluded_or_strict(tmp_path, dataset):
    answers = {k: v for k, v in ANSWERS_PX.items() if k != "p2"}
    run = _run(tmp_path, dataset, answers, "model.params.coords=pixels")
    data = metrics(run)  # default: the pair without an answer counts, as a wrong one
    assert data["counts"]["missing"] == 1 and data["counts"]["scored"] == 4
    assert data["missing"] == {"policy": "wrong", "ids": ["p2"]}
    assert data["metrics"]["n"] == 4
    scores = {s["id"]: s for s in map(json.loads, (run / "dig" / "scores.jsonl").read_text().splitlines())}
    assert scores["p2"]["missing"] is True and scores["p2"]["f1"] == 0 and scores["p2"]["pred"] == []
    assert "missing" not in scores["p1"]
    excluded = _run(tmp_path, dataset, answers, "model.params.coords=pixels", "evaluator.params.missing=exclude",
                    name="excluded")
    data = metrics(excluded)
    assert data["counts"]["missing"] == 1 and data["counts"]["scored"] == 3 and data["metrics"]["n"] == 3
    assert data["missing"]["policy"] == "exclude"
    preds = tmp_path / "run.jsonl"
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "model.params.coords=pixels",
                   "model.params.strict=true", "evaluator.name=dig", f"evaluator.params.dataset={dataset}",
                   "--out", tmp_path / "strict", "--no-progress")
    assert res.exit_code == 2 and "dig/p2" in res.output and "strict" in res.output


def test_count_in_prompt_stage_and_limit(tmp_path):
    """Prompts state K when the pair's stage does; the param overrides; stage and limit filter."""
    from dig_core.config import load_config
    from dig_eval.adapters.predictions import PredictionsAdapter, PredictionsConfig
    from dig_eval.evaluators.dig import DigEvalConfig, DigEvaluator

    ds = write_annotations(tmp_path / "ds", [
        ann("a", [[1, 1, 5, 5], [10, 10, 20, 20]], ["add", "color"], stage="dig-2", count_in_prompt=True),
        ann("b", [[1, 1, 5, 5]], ["add"], stage="dig-mix", count_in_prompt=False),
        ann("c", [[1, 1, 5, 5]], ["add"], stage="dig-mix", count_in_prompt=False),
    ])
    preds = write_jsonl(tmp_path / "p.jsonl", [])
    model = PredictionsAdapter(PredictionsConfig(path=str(preds), coords="rel1000"))
    ev = DigEvaluator(DigEvalConfig(dataset=str(ds)))
    ev.bind(load_config(None, [], validate=False))
    prompts = {s.request.id: s.request.prompt for s in ev.samples(model)}
    assert "exactly 2 differences" in prompts["a"] and "one or more differences" in prompts["b"]
    assert "0-1000" in prompts["a"]
    forced = DigEvaluator(DigEvalConfig(dataset=str(ds), count_in_prompt=True, stage="dig-mix", limit=1))
    samples = forced.samples(model)
    assert [s.request.id for s in samples] == ["b"] and "exactly 1 difference" in samples[0].request.prompt
    assert samples[0].request.images == [str(ds / "images/b_a.png"), str(ds / "images/b_b.png")]


def test_no_difference_control_pairs(tmp_path):
    """A control pair (K = 0, a stage with k_min 0) is fully right with a well-formed empty answer and
    wrong with any box; its prompt says the images may be identical, the count is never given."""
    from dig_core.config import instantiate, load_config, to_plain

    pairs = [ann("c0", [], [], stage="ctl", count_in_prompt=False),
             ann("c1", [], [], stage="ctl", count_in_prompt=False),
             ann("d0", [[10, 10, 30, 30]], ["color"], stage="ctl", count_in_prompt=False)]
    root = write_annotations(tmp_path / "ds", pairs)
    cfg = to_plain(load_config(None, ["curriculum.stages=[{name: ctl, k_min: 0, k_max: 1, count_in_prompt: false, pairs: 3}]"],
                               sections=()))
    (root / "dataset.json").write_text(json.dumps({"format_version": 1, "config": cfg}))
    run = _run(tmp_path, root, {"c0": "<answer>[]</answer>", "c1": "[[1, 1, 5, 5]]", "d0": "[[10, 10, 30, 30]]"},
               "model.params.coords=pixels")
    scores = {s["id"]: s for s in map(json.loads, (run / "dig" / "scores.jsonl").read_text().splitlines())}
    assert scores["c0"]["reward"] == 1.0 and scores["c0"]["f1"] == 1.0
    assert scores["c1"]["reward"] == 0.0
    assert scores["d0"]["reward"] == pytest.approx(1.0)
    cfg = load_config(None, ["model.name=predictions", f"model.params.path={tmp_path / 'run.jsonl'}",
                             "model.params.coords=pixels", "evaluator.name=dig", f"evaluator.params.dataset={root}"],
                      sections=("task", "reward", "model", "evaluator"))
    evaluator = instantiate(cfg, "evaluator", "evaluator")
    evaluator.bind(cfg)
    prompts = [s.request.prompt for s in evaluator.samples(instantiate(cfg, "model", "model_adapter"))]
    assert len(prompts) == 3 and all("may be identical" in p and "one or more" not in p for p in prompts)


def test_shared_scorer_scores_control_pairs_like_the_evaluator():
    from dig_core.config import load_config
    from dig_core.training.labels import Label
    from dig_core.training.reward_log import SampleScorer

    scorer = SampleScorer(load_config(None, sections=("task", "reward")))
    label = Label("c0", "ctl", 0, (), 100, 100, "pixels", None)
    assert scorer.score_text("[]", label)["reward"] == 1.0
    assert scorer.score_text("[[1, 1, 5, 5]]", label)["reward"] == 0.0
    assert scorer.score_text("no differences", label)["reward"] == 0.0


def test_chance_baseline_is_boxing_one_random_object(tmp_path):
    """chance/*: the expectation of answering one random object's box (exact when it is a changed
    object, overlapping nothing otherwise), by hand: a pair with 4 objects and 1 difference, one with
    5 objects (I_a's 4 plus an added one) and 2 differences; reward alpha 0.1, lambdas 0.5."""
    objs = lambda ids: {"objects": [{"id": i} for i in ids]}  # noqa: E731
    p0 = ann("p0", [[40, 40, 60, 60]], ["color"]) | {"scene_a": objs(range(4)), "scene_b": objs(range(4))}
    p1 = ann("p1", [[10, 10, 30, 30], [60, 60, 80, 80]], ["add", "size"]) | {
        "scene_a": objs(range(4)), "scene_b": objs(range(5))}
    no_scene = ann("p2", [[40, 40, 60, 60]], ["color"])
    data = write_annotations(tmp_path / "ds", [p0, p1])
    run = _run(tmp_path, data, {"p0": "[[0, 0, 1, 1]]", "p1": "[]"}, "model.params.coords=pixels")
    m = metrics(run)["metrics"]
    approx = lambda v: pytest.approx(v, abs=1e-3)  # noqa: E731
    # p0: hit w.p. 1/4 (F1 1, mIoU 1, r 1), miss w.p. 3/4 (r = alpha = 0.1)
    # p1: each difference w.p. 1/5 (P 1, R 1/2: F1 2/3, mIoU 1, r .9 * (1/3 + 1/2) + .1 = .85), miss w.p. 3/5
    assert m["chance/acc@0.5"] == approx(100 * (1 / 4 + 2 / 5) / 3) == m["chance/acc@0.95"]
    assert m["chance/f1"] == approx(100 * (1 / 4 + 2 / 5 * 2 / 3) / 2)
    assert m["chance/miou"] == approx(100 * (1 / 4 + 2 / 5) / 2)
    assert m["chance/reward"] == approx(((1 / 4 + 3 / 4 * 0.1) + (2 / 5 * 0.85 + 3 / 5 * 0.1)) / 2)
    assert m["chance/acc@0.5/k=1"] == approx(25.0) and m["chance/acc@0.5/k=2"] == approx(20.0)
    # without the scenes there is no baseline (rather than a wrong one)
    data2 = write_annotations(tmp_path / "ds2", [no_scene])
    m2 = metrics(_run(tmp_path, data2, {"p2": "[]"}, "model.params.coords=pixels", name="r2"))["metrics"]
    assert not any(k.startswith("chance/") for k in m2)
