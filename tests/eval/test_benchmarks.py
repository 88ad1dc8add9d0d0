"""The paper's benchmark evaluators on tiny files in their published layouts, end to end through the
``predictions`` adapter and the real ``dig eval`` CLI, against hand-computed metrics; coordinate
conventions of RefCOCO; answer-extraction rules; clear errors for missing or malformed data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dig_core.errors import DigError
from dig_eval.evaluators.choices import LETTER_INSTRUCTION, extract_choice
from dig_eval.evaluators.cvbench import CVBenchConfig, CVBenchEvaluator
from dig_eval.evaluators.hallusionbench import HallusionBenchConfig, HallusionBenchEvaluator
from dig_eval.evaluators.hrbench import HRBenchConfig, HRBenchEvaluator
from dig_eval.evaluators.mmvp import MMVPConfig, MMVPEvaluator
from dig_eval.evaluators.pope import POPEConfig, POPEEvaluator
from dig_eval.evaluators.refcoco import RefCOCOConfig, RefCOCOEvaluator
from dig_eval.evaluators.vstar import VStarConfig, VStarEvaluator
from dig_eval.evaluators.yesno import pope_answer, true_false, yes_no

from tests.eval import bench_files as bf
from tests.eval.util import dig_eval, metrics, write_jsonl

approx = lambda v: pytest.approx(v, abs=1e-3)  # noqa: E731


# -- tiny published-layout files + answers + hand-computed metrics ---------------------------------------
def refcoco(root: Path):
    def row(qid, bbox, answers):
        return {"question_id": qid, "image": bf.image_cell(200, 100), "question": "", "answer": answers,
                "segmentation": [], "bbox": bbox, "iscrowd": 0, "file_name": f"{qid}.jpg"}
    bf.write_parquet(root / "data/val-00000-of-00001.parquet",
                     [row("q1", [20, 10, 100, 50], ["the red box", "left thing", "top one"]),
                      row("q2", [0, 0, 200, 100], ["everything"])], bf.REFCOCO_SCHEMA)
    bf.write_parquet(root / "data/testA-00000-of-00001.parquet",
                     [row("q3", [20, 10, 100, 50], ["a", "b", "c"])], bf.REFCOCO_SCHEMA)
    answers = {
        "val/q1/0": "[20, 10, 120, 60]",             # IoU 1
        "val/q1/1": "[20, 10, 70, 60]",              # IoU 0.5 exactly
        "val/q1/2": "<think>hm</think>[20, 10, 95, 60]",  # IoU 0.75 exactly
        "val/q2/0": '{"bbox_2d": [0, 0, 190, 100]}',  # IoU 0.95 exactly
        "testA/q3/0": "[20, 10, 69, 60]",            # IoU 0.49
        "testA/q3/1": "I cannot see it",             # no box
        "testA/q3/2": "[20, 10, 100, 50]",           # the [x, y, w, h] read as corners: IoU 0.64, not 1
    }
    expected = {"val/acc@0.5": 100.0, "val/acc@0.75": 75.0, "val/acc@0.95": 50.0,
                "val/miou": 100 * (1 + 0.5 + 0.75 + 0.95) / 4, "val/parsed": 100.0, "val/n": 4,
                "testA/acc@0.5": 100 / 3, "testA/acc@0.75": 0.0, "testA/acc@0.95": 0.0,
                "testA/miou": 100 * (0.49 + 0 + 0.64) / 3, "testA/parsed": 200 / 3, "testA/n": 3}
    return root, answers, expected, ["model.params.coords=pixels"]


def pope(root: Path):
    rows = [("adversarial", "1", "yes", "Yes"), ("adversarial", "2", "no", "No, there is not."),
            ("adversarial", "3", "no", "Yes, there is a dog."), ("adversarial", "4", "yes", "There is no dog"),
            ("popular", "1", "yes", "yes"), ("popular", "2", "no", "I think so"),
            ("random", "1", "yes", "<think>no no no</think>Yes"), ("random", "2", "no", "not sure")]
    bf.write_parquet(root / "data/test-00000-of-00001.parquet",
                     [{"id": str(i), "question_id": q, "question": f"Is there a {q} in the image?", "answer": a,
                       "image_source": "coco", "image": bf.image_cell(), "category": c}
                      for i, (c, q, a, _) in enumerate(rows)], bf.POPE_SCHEMA)
    answers = {f"{c}/{q}": comp for c, q, _, comp in rows}
    expected = {"adversarial/accuracy": 50, "adversarial/precision": 50, "adversarial/recall": 50,
                "adversarial/f1": 50, "adversarial/yes_ratio": 50,
                "popular/accuracy": 50, "popular/precision": 50, "popular/recall": 100,
                "popular/f1": 200 / 3, "popular/yes_ratio": 100,
                "random/accuracy": 100, "random/precision": 100, "random/recall": 100, "random/f1": 100,
                "random/yes_ratio": 50,
                "accuracy": 62.5, "precision": 60, "recall": 75, "f1": 100 * 2 * 0.6 * 0.75 / 1.35,
                "yes_ratio": 62.5, "n": 8}
    return root, answers, expected, []


HB_ROWS = [  # category, subcategory, set_id, figure_id, question_id, gt_answer, completion
    ("VD", "illusion", "0", "0", "0", "1", "Yes"),
    ("VD", "illusion", "0", "0", "1", "0", "No"),
    ("VD", "illusion", "0", "1", "0", "0", "Yes"),
    ("VD", "illusion", "0", "1", "1", "1", "yes."),
    ("VS", "chart", "1", "1", "0", "1", "yes"),
    ("VS", "chart", "1", "2", "0", "0", "maybe"),   # unclear: wrong
]
HB_NON_IMAGE = [("VS", "chart", "1", "0", "0", "1", "I don't know")]  # no figure + unclear: right


def _hb_rows(rows, with_image):
    return [{"category": c, "subcategory": s, "visual_input": "1" if with_image else "0", "set_id": st,
             "figure_id": f, "sample_note": "", "question_id": q, "question": f"Is {q} true?",
             "gt_answer_details": "", "gt_answer": gt, "filename": "",
             "image": bf.image_cell() if with_image else None} for c, s, st, f, q, gt, _ in rows]


def hallusionbench(root: Path):
    bf.write_parquet(root / "data/image-00000-of-00001.parquet", _hb_rows(HB_ROWS, True), bf.HALLUSION_SCHEMA)
    bf.write_parquet(root / "data/non_image-00000-of-00001.parquet", _hb_rows(HB_NON_IMAGE, False),
                     bf.HALLUSION_SCHEMA)
    answers = {"/".join(r[:5]): r[6] for r in HB_ROWS + HB_NON_IMAGE}
    # 7 questions, 5 right; question groups: (VD,0) no, (VD,1) yes, (VS,0) no; figures: VD0 yes,
    # VD1 no, VS1 yes, VS2 no (VS figure 0 left out)
    expected = {"aAcc": 500 / 7, "qAcc": 100 / 3, "fAcc": 50.0, "n": 7, "n_question_groups": 3, "n_figures": 4}
    return root, answers, expected, ["evaluator.params.splits=[image,non_image]"]


def mmvp(root: Path):
    gts = ["(a)", "(b)", "(a)", "(b)", "(a)", "(b)"]
    bf.write_parquet(root / "data/train-00000-of-00001.parquet",
                     [{"Index": i + 1, "Question": "Is the door open or closed?", "Options": "(a) Open (b) Closed",
                       "Correct Answer": gt, "image": bf.image_cell()} for i, gt in enumerate(gts)], bf.MMVP_SCHEMA)
    answers = {"1": "A", "2": "(b) Closed", "3": "B", "4": "B.", "5": "The answer is A", "6": "Closed"}
    expected = {"accuracy": 500 / 6, "pair_accuracy": 200 / 3, "n": 6, "n_pairs": 3}
    return root, answers, expected, []


def cvbench(root: Path):
    def row(idx, typ, task, source, choices, answer):
        return {"idx": idx, "type": typ, "task": task, "image": bf.image_cell(), "question": "q", "choices": choices,
                "answer": answer, "prompt": "q\n" + " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices)),
                "filename": f"img/{typ}/{idx}.png", "source": source, "source_dataset": source,
                "source_filename": "", "target_class": None, "target_size": None, "bbox": None}
    lr, tb = ["left", "right"], ["table", "bookcase"]
    bf.write_parquet(root / "test_2d.parquet", [
        row(0, "2D", "Count", "ADE20K", ["1", "2", "3"], "(B)"), row(1, "2D", "Count", "ADE20K", ["1", "2", "3"], "(A)"),
        row(2, "2D", "Relation", "COCO", lr, "(A)"), row(3, "2D", "Relation", "COCO", lr, "(B)"),
        row(6, "2D", "Relation", "COCO", lr, "(A)")], bf.CVBENCH_SCHEMA)
    bf.write_parquet(root / "test_3d.parquet", [
        row(4, "3D", "Depth", "Omni3D", tb, "(A)"), row(5, "3D", "Distance", "Omni3D", tb, "(B)")], bf.CVBENCH_SCHEMA)
    answers = {"2D/0": "B", "2D/1": "C", "2D/2": "(A)", "2D/3": "right", "2D/6": "A", "3D/4": "A", "3D/5": "A"}
    # ADE20K 1/2, COCO 3/3 -> 2D 75 (not the 80 of 4/5); Omni3D 1/2 -> 3D 50
    expected = {"count": 50, "relation": 100, "depth": 100, "distance": 0, "2d": 75, "3d": 50, "overall": 62.5, "n": 7}
    return root, answers, expected, []


def vstar(root: Path):
    rows = [(1, "direct_attributes", "What is the color of the cup? (A) red (B) blue (C) green (D) white", "A", "A"),
            (2, "direct_attributes", "What is on the table? (A) cup (B) pen (C) book (D) phone", "C", "B"),
            (3, "relative_position", "Is the dog on the left or right of the cat? (A) left (B) right", "B", "(B) right")]
    bf.write_parquet(root / "data/test-00000-of-00001.parquet",
                     [{"image": bf.image_cell(), "text": t, "label": lab, "question_id": q, "category": c}
                      for q, c, t, lab, _ in rows], bf.VSTAR_SCHEMA)
    answers = {f"{c}/{q}": comp for q, c, _, _, comp in rows}
    expected = {"direct_attributes": 50, "relative_position": 100, "overall": 200 / 3, "n": 3}
    return root, answers, expected, []


def hrbench(root: Path):
    rows = [  # index, category, cycle, answer, completion
        (0, "single", "0", "A", "A"), (1, "single", "0", "B", "C"), (2, "single", "1", "C", "C"),
        (3, "cross", "0", "D", "D"), (4, "cross", "1", "A", "B"), (5, "cross", "1", "B", "B"), (6, "cross", "1", "C", "C")]
    img = bf.b64_png()
    bf.write_parquet(root / "hr_bench_8k.parquet",
                     [{"index": i, "question": "Which?", "answer": a, "category": c, "A": "w", "B": "x", "C": "y",
                       "D": "z", "cycle_category": cy, "image": img} for i, c, cy, a, _ in rows], bf.HRBENCH_SCHEMA)
    answers = {f"hrbench_8k/{i}": comp for i, _, _, _, comp in rows}
    # per-rotation accuracy, then the mean over rotations
    expected = {"FSP": (50 + 100) / 2, "FCP": (100 + 200 / 3) / 2, "overall": (200 / 3 + 75) / 2, "n": 7}
    return root, answers, expected, []


def vsr(root: Path):
    rows = [("000000000001.png", "The cat is left of the dog.", 1, "True"),
            ("000000000002.png", "The cup is on the table.", 0, "false."),
            ("000000000003.png", "The bus is behind the car.", 1, "no"),
            ("000000000004.png", "The bird is above the cat.", 0, "maybe")]
    for name, *_ in rows:
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "images" / name).write_bytes(bf.png())
    bf.write_jsonl(root / "test.jsonl", [
        {"image": n, "image_link": f"http://images.cocodataset.org/train2017/{n}", "caption": cap, "label": lab,
         "relation": "left of", "annotator_id": 1, "vote_true_validator_id": "[]", "vote_false_validator_id": "[]"}
        for n, cap, lab, _ in rows])
    answers = {f"test/{Path(n).stem}/{cap}": comp for n, cap, _, comp in rows}
    return root, answers, {"accuracy": 50, "unclear": 25, "n": 4}, []


CASES = {"refcoco": refcoco, "refcoco+": refcoco, "refcocog": refcoco, "pope": pope, "hallusionbench": hallusionbench,
         "mmvp": mmvp, "cvbench": cvbench, "vstar": vstar, "hrbench": hrbench, "vsr": vsr}


def _eval(tmp_path, bench, data, answers, *extra, name="run"):
    preds = write_jsonl(tmp_path / f"{name}.jsonl",
                        [{"benchmark": bench, "id": k, "completion": v} for k, v in answers.items()])
    out = tmp_path / name
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", f"evaluator.name={bench}",
                   f"evaluator.params.path={data}", "--out", out, "--no-progress", *extra)
    return res, out


@pytest.mark.parametrize("bench", list(CASES))
def test_hand_computed_metrics_through_predictions(tmp_path, bench):
    data, answers, expected, extra = CASES[bench](tmp_path / "data")
    if bench == "refcocog":  # RefCOCOg has val/test: publish testA's rows as its test split
        (data / "data/testA-00000-of-00001.parquet").rename(data / "data/test-00000-of-00001.parquet")
        answers = {k.replace("testA/", "test/"): v for k, v in answers.items()}
        expected = {k.replace("testA/", "test/"): v for k, v in expected.items()}
    res, out = _eval(tmp_path, bench, data, answers, *extra)
    assert res.exit_code == 0, res.output
    result = metrics(out, bench)
    assert result["counts"]["scored"] == len(answers) == result["counts"]["samples"]
    m = result["metrics"]
    for key, value in expected.items():
        assert m[key] == approx(value), key
    scores = [json.loads(line) for line in (out / bench / "scores.jsonl").read_text().splitlines()]
    assert sorted(s["id"] for s in scores) == sorted(answers)
    assert bench in (out / "results.md").read_text()


def test_refcoco_resumes_and_reuses_predictions(tmp_path):
    data, answers, expected, extra = refcoco(tmp_path / "data")
    _eval(tmp_path, "refcoco", data, answers, *extra)
    res, out = _eval(tmp_path, "refcoco", data, answers, *extra)
    assert res.exit_code == 0, res.output
    assert metrics(out, "refcoco")["counts"]["reused"] == len(answers)


# -- coordinate conventions: the model's own, applied explicitly ---------------------------------------
@pytest.mark.parametrize("coords,scale,answer,size_in_prompt", [
    ("pixels", None, "[20, 10, 120, 60]", "200x100"),
    ("pixels", (0.5, 0.5), "[10, 5, 60, 30]", "100x50"),      # pixels of a half-size model input
    ("rel1000", None, "[100, 100, 600, 600]", "0-1000"),
    ("rel1", None, "[0.1, 0.1, 0.6, 0.6]", "between 0 and 1"),
])
def test_refcoco_applies_the_models_convention(tmp_path, coords, scale, answer, size_in_prompt):
    data, *_ = refcoco(tmp_path / "data")
    ev = RefCOCOEvaluator(RefCOCOConfig(path=str(data), splits=["testA"]))
    model = bf.FixedAdapter({"testA/q3/0": answer}, coords=coords, scale=scale)
    records, m = bf.run(ev, model)
    assert records[0]["iou"] == pytest.approx(1.0)
    assert records[0]["gt_box"] == [20, 10, 120, 60]
    assert size_in_prompt in model.seen[0].prompt and '"a"' in model.seen[0].prompt
    # the same answer read in another convention is not rescued
    other = bf.FixedAdapter({"testA/q3/0": answer}, coords="rel1000" if coords != "rel1000" else "pixels")
    rec2, _ = bf.run(ev, other)
    assert rec2[0]["iou"] < 0.5


# -- extraction rules ------------------------------------------------------------------------------------
def test_pope_official_rule():
    assert pope_answer("Yes, there is.") == "yes"
    assert pope_answer("No.") == "no"
    assert pope_answer("There is not a cat. No wait, yes") == "no"
    assert pope_answer("I think so") == "yes"  # no negation word: yes
    assert pope_answer("<think>no</think>yes") == "yes"


def test_yes_no_and_true_false():
    assert yes_no("Yes.") == "yes" and yes_no("no!") == "no"
    assert yes_no("yes and no") is None and yes_no("unclear") is None
    assert true_false("True.") is True and true_false("It is false") is False and true_false("maybe") is None


def test_choice_extraction():
    opts = {"A": "red", "B": "blue", "C": "green"}
    assert extract_choice("B", opts) == "B"
    assert extract_choice("(C) green", opts) == "C"
    assert extract_choice("The answer is A.", opts) == "A"
    assert extract_choice("It is blue", opts) == "B"
    assert extract_choice("A or B", opts) is None
    assert extract_choice("purple", opts) is None
    assert extract_choice("<think>A? B?</think>C", opts) == "C"


# one question per benchmark whose last option is "white", its text as published (V*: option lines
# and the trailing instruction line; CV-Bench: "Select from the following choices." then option lines)
SCARF = "What is the color of the woman's scarf?"


def _vstar_scarf(root: Path):
    text = f"{SCARF}\n(A) black\n(B) red\n(C) green\n(D) white\n{LETTER_INSTRUCTION}"
    bf.write_parquet(root / "data/test-00000-of-00001.parquet", [
        {"image": bf.image_cell(), "text": text, "label": "D", "question_id": 7, "category": "direct_attributes"}],
        bf.VSTAR_SCHEMA)
    return VStarEvaluator(VStarConfig(path=str(root))), "D", LETTER_INSTRUCTION


def _mmvp_scarf(root: Path):
    bf.write_parquet(root / "data/train-00000-of-00001.parquet", [
        {"Index": 1, "Question": SCARF, "Options": "(a) Black (b) White", "Correct Answer": "(b)",
         "image": bf.image_cell()}], bf.MMVP_SCHEMA)
    return MMVPEvaluator(MMVPConfig(path=str(root))), "B", LETTER_INSTRUCTION


def _cvbench_scarf(root: Path):
    choices = ["black", "red", "white"]
    prompt = f"{SCARF} Select from the following choices.\n(A) black\n(B) red\n(C) white"
    bf.write_parquet(root / "test.parquet", [
        {"idx": 0, "type": "2D", "task": "Count", "image": bf.image_cell(), "question": SCARF, "choices": choices,
         "answer": "(C)", "prompt": prompt, "filename": "img/2D/count/ade20k_0.png", "source": "ADE20K",
         "source_dataset": "ADE20K Validation Set", "source_filename": "", "target_class": None,
         "target_size": None, "bbox": None}], bf.CVBENCH_SCHEMA)
    return CVBenchEvaluator(CVBenchConfig(path=str(root))), "C", LETTER_INSTRUCTION


def _hrbench_scarf(root: Path):
    bf.write_parquet(root / "hr_bench_8k.parquet", [
        {"index": 0, "question": SCARF, "answer": "D", "category": "single", "A": "black", "B": "red",
         "C": "green", "D": "white", "cycle_category": "0", "image": bf.b64_png()}], bf.HRBENCH_SCHEMA)
    return HRBenchEvaluator(HRBenchConfig(path=str(root))), "D", "Answer the option letter directly."


@pytest.mark.parametrize("make", [_vstar_scarf, _mmvp_scarf, _cvbench_scarf, _hrbench_scarf],
                         ids=["vstar", "mmvp", "cvbench", "hrbench"])
@pytest.mark.parametrize("answer", ["The scarf is white.", "white", "D. white"])
def test_last_option_ends_at_its_line_and_is_read_by_its_text(tmp_path, make, answer):
    ev, last, instruction = make(tmp_path / "data")
    if answer.startswith("D.") and last != "D":
        answer = f"{last}. white"
    model = bf.FixedAdapter({}, default=answer)
    (sample,) = ev.samples(model)
    assert sample.target["options"][last].lower() == "white"  # not "white\nAnswer with ..."
    prompt = sample.request.prompt
    lines = prompt.splitlines()
    assert prompt.count(instruction) == 1 and lines[-1] == instruction, prompt
    assert lines[-2].lower().endswith(f"{last.lower()}. white") or lines[-2].endswith(f"({last}) white"), prompt
    records, m = bf.run(ev, model)
    assert records[0]["pred"] == last and records[0]["correct"], records


def test_hallusionbench_default_is_the_image_split(tmp_path):
    data, answers, _, _ = hallusionbench(tmp_path / "data")
    ev = HallusionBenchEvaluator(HallusionBenchConfig(path=str(data)))
    records, m = bf.run(ev, bf.FixedAdapter(answers))
    assert m["n"] == 6 and m["aAcc"] == approx(400 / 6) and m["qAcc"] == approx(100 / 3) and m["fAcc"] == approx(50)


# -- missing / malformed data ------------------------------------------------------------------------------
def test_missing_data_names_benchmark_path_and_layout(tmp_path):
    with pytest.raises(DigError) as e:
        POPEEvaluator(POPEConfig(path=str(tmp_path / "nowhere"))).samples(bf.FixedAdapter({}))
    msg = str(e.value)
    assert "pope" in msg and "nowhere" in msg and "question_id" in msg and "category" in msg


def test_missing_column_is_named(tmp_path):
    import pyarrow as pa

    schema = pa.schema([f for f in bf.POPE_SCHEMA if f.name != "category"])
    f = bf.write_parquet(tmp_path / "data/test-00000-of-00001.parquet",
                         [{"id": "0", "question_id": "1", "question": "q", "answer": "yes", "image_source": "",
                           "image": bf.image_cell()}], schema)
    with pytest.raises(DigError) as e:
        POPEEvaluator(POPEConfig(path=str(tmp_path))).samples(bf.FixedAdapter({}))
    assert "missing column(s) ['category']" in str(e.value) and str(f) in str(e.value)


def test_malformed_file_and_missing_split_through_the_cli(tmp_path):
    bad = tmp_path / "pope/data/test-00000-of-00001.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet at all")
    res, _ = _eval(tmp_path, "pope", tmp_path / "pope", {})
    assert res.exit_code != 0 and "error:" in res.output and "Traceback" not in res.output
    assert "pope" in res.output and "not a readable parquet file" in res.output

    data, answers, *_ = refcoco(tmp_path / "ref")
    res, _ = _eval(tmp_path, "refcoco", data, answers, "model.params.coords=pixels", "evaluator.params.splits=[testB]",
                   name="run2")
    assert res.exit_code != 0 and "testB" in res.output and "refcoco" in res.output


def test_unknown_split_is_a_config_error(tmp_path):
    res, _ = _eval(tmp_path, "pope", tmp_path, {}, "evaluator.params.splits=[val]")
    assert res.exit_code == 2 and "splits" in res.output and "test" in res.output
