"""docs/eval.md's protocol table, run: the shipped ``configs/eval-vs-lmms.yaml`` scores our ``pope``,
``mmvp``, ``cvbench``, ``vstar``, ``hrbench`` and ``refcoco`` and lmms-eval 0.7's own tasks of the same
benchmarks (through the bridge) on the same tiny local files and the same answers, in one
``dig eval``; ``dig eval compare`` puts both numbers on one table. Every value is hand-computed from
each side's rule: they agree where the rules do (RefCOCO with 0-1 boxes, bare letters) and part
where lmms-eval matches less (exact "yes", a letter at the start, any standalone a/b)."""

from __future__ import annotations

import pytest

pytest.importorskip("lmms_eval", reason="lmms-eval is not installed (pip install 'dig-eval[lmms]')")

from pathlib import Path  # noqa: E402

from tests.eval import bench_files as bf  # noqa: E402
from tests.eval.util import dig_eval, metrics, write_jsonl  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "eval-vs-lmms.yaml"
LETTERS = "Answer with the option's letter from the given choices directly."
approx = lambda v: pytest.approx(v, abs=1e-3)  # noqa: E731

# (category, question_id, truth, answer): POPE's rule reads the first sentence, lmms-eval wants "yes"/"no"
POPE = [("adversarial", "1", "yes", "Yes, there is a dog in the image."), ("adversarial", "2", "no", "No"),
        ("adversarial", "3", "no", "There is no cat."), ("popular", "1", "yes", "yes"),
        ("popular", "2", "no", "Yes."), ("random", "1", "yes", "Yes"), ("random", "2", "no", "no."),
        ("random", "3", "yes", "I think so.")]
# (Index, truth, answer): lmms-eval's mmvp takes any standalone a/b, case-insensitive ("a closed door")
MMVP = [(1, "(a)", "The door is open."), (2, "(b)", "B"), (3, "(a)", "A"), (4, "(b)", "It is a closed door.")]
# (idx, task, source, choices, truth, answer): lmms-eval's cv_bench reads the first letter of the answer
CVBENCH = [(0, "Count", "ADE20K", ["1", "2", "3"], "(B)", "B"),
           (1, "Relation", "COCO", ["left", "right"], "(A)", "The answer is A."),
           (2, "Depth", "Omni3D", ["lamp", "chair"], "(B)", "(B) chair"),
           (3, "Distance", "Omni3D", ["lamp", "chair"], "(A)", "lamp"),
           (4, "Relation", "COCO", ["left", "right"], "(B)", "left")]
# (question_id, category, question, options, label, answer) in the published text layout
VSTAR = [(0, "direct_attributes", "What is the color of the woman's scarf?", ["black", "white"], "B",
          "The scarf is white."),
         (1, "direct_attributes", "What is the color of the cup?", ["red", "blue", "green", "white"], "A", "A"),
         (2, "relative_position", "Is the dog on the left or right side of the cat?", ["left", "right"], "B", "(B)"),
         (3, "relative_position", "Is the cup on the left or right side of the plate?", ["left", "right"], "A",
          "right")]
# RefCOCO val: (question_id, COCO bbox, expressions, answers as 0-1 boxes): IoU 1, 0.8, 0.9
REFCOCO = [("q1", [20, 10, 100, 50], ["the red box", "left thing"], ["[0.1, 0.1, 0.6, 0.6]", "[0.1, 0.1, 0.5, 0.6]"]),
           ("q2", [0, 0, 200, 100], ["everything"], ["The box is [0.0, 0.0, 0.9, 1.0]"])]


def _files(root: Path) -> Path:
    """The benchmarks under root/data in their published layouts, and answers.jsonl with every
    answer under our id and under lmms-eval's ``<task>/<doc_id>`` (doc ids: file order)."""
    lines = []

    def answer(ours: tuple[str, str], task: str, doc_id: int, text: str) -> None:
        lines.append({"benchmark": ours[0], "id": ours[1], "completion": text})
        lines.append({"benchmark": "lmms-eval", "id": f"{task}/{doc_id}", "completion": text})

    data = root / "data"
    bf.write_parquet(data / "POPE/data/test-00000-of-00001.parquet",
                     [{"id": str(i), "question_id": q, "question": f"Is there a {q}?", "answer": a,
                       "image_source": "coco", "image": bf.image_cell(), "category": c}
                      for i, (c, q, a, _) in enumerate(POPE)], bf.POPE_SCHEMA)
    for i, (c, q, _, text) in enumerate(POPE):
        answer(("pope", f"{c}/{q}"), "pope", i, text)
    bf.write_parquet(data / "MMVP/data/train-00000-of-00001.parquet",
                     [{"Index": i, "Question": "Is the door open or closed?", "Options": "(a) Open (b) Closed",
                       "Correct Answer": gt, "image": bf.image_cell()} for i, gt, _ in MMVP], bf.MMVP_SCHEMA)
    for doc, (i, _, text) in enumerate(MMVP):
        answer(("mmvp", str(i)), "mmvp", doc, text)
    bf.write_parquet(data / "CV-Bench/test.parquet", [
        {"idx": idx, "type": "3D" if src == "Omni3D" else "2D", "task": task, "image": bf.image_cell(),
         "question": "Which?", "choices": ch, "answer": gt,
         "prompt": "Which? Select from the following choices.\n" + "\n".join(f"({chr(65 + j)}) {c}" for j, c in enumerate(ch)),
         "filename": f"img/{idx}.png", "source": src, "source_dataset": src, "source_filename": "",
         "target_class": None, "target_size": None, "bbox": None}
        for idx, task, src, ch, gt, _ in CVBENCH], bf.CVBENCH_SCHEMA)
    for doc, (idx, _, src, _, _, text) in enumerate(CVBENCH):
        answer(("cvbench", f"{'3D' if src == 'Omni3D' else '2D'}/{idx}"), "cv_bench", doc, text)
    bf.write_parquet(data / "vstar-bench/data/test-00000-of-00001.parquet", [
        {"image": bf.image_cell(), "label": lab, "question_id": q, "category": c,
         "text": "\n".join([question, *(f"({chr(65 + j)}) {o}" for j, o in enumerate(opts)), LETTERS])}
        for q, c, question, opts, lab, _ in VSTAR], bf.VSTAR_SCHEMA)
    for doc, (q, c, _, _, _, text) in enumerate(VSTAR):
        answer(("vstar", f"{c}/{q}"), "vstar_bench", doc, text)
    bf.write_parquet(data / "HR-Bench/hr_bench_8k.parquet", [
        {"index": 0, "question": "Which?", "answer": "A", "category": "single", "A": "w", "B": "x", "C": "y",
         "D": "z", "cycle_category": "0", "image": bf.b64_png()},
        {"index": 1, "question": "Which?", "answer": "C", "category": "cross", "A": "w", "B": "x", "C": "y",
         "D": "z", "cycle_category": "0", "image": bf.b64_png()}], bf.HRBENCH_SCHEMA)
    lines += [{"benchmark": "hrbench", "id": "hrbench_8k/0", "completion": "A"},
              {"benchmark": "hrbench", "id": "hrbench_8k/1", "completion": "The answer is B."}]
    bf.write_parquet(data / "RefCOCO/data/val-00000-of-00001.parquet", [
        {"question_id": q, "image": bf.image_cell(200, 100), "question": "", "answer": exprs, "segmentation": [],
         "bbox": box, "iscrowd": 0, "file_name": f"{q}.jpg"} for q, box, exprs, _ in REFCOCO], bf.REFCOCO_SCHEMA)
    doc = 0
    for q, _, _, texts in REFCOCO:
        for j, text in enumerate(texts):
            answer(("refcoco", f"val/{q}/{j}"), "refcoco_bbox_rec_val", doc, text)
            doc += 1
    return write_jsonl(root / "answers.jsonl", lines)


def test_one_config_scores_both_rules_and_compare_shows_both(tmp_path, monkeypatch):
    answers = _files(tmp_path)
    monkeypatch.chdir(tmp_path)  # the shipped config's data/... paths
    res = dig_eval("--config", CONFIG, f"model.params.path={answers}", "--out", "runs/rules", "--no-progress")
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs/rules"
    ours = {b: metrics(run, b)["metrics"] for b in ("pope", "mmvp", "cvbench", "vstar", "hrbench", "refcoco")}
    lmms = metrics(run, "lmms-eval")["metrics"]
    assert all(metrics(run, b)["counts"]["missing"] == 0 for b in [*ours, "lmms-eval"])

    # POPE: ours reads 7 of 8 (only "Yes." to a no-question is wrong); lmms-eval matches 3 exactly,
    # and with nothing else counted as yes or no its precision and recall are both 1
    assert ours["pope"]["accuracy"] == approx(87.5) and ours["pope"]["precision"] == approx(80)
    assert ours["pope"]["recall"] == approx(100) and ours["pope"]["yes_ratio"] == approx(62.5)
    assert lmms["pope/pope_accuracy"] == approx(3 / 8)
    assert lmms["pope/pope_precision"] == approx(1) and lmms["pope/pope_recall"] == approx(1)
    assert lmms["pope/pope_yes_ratio"] == approx(4 / 8)  # the ground truth's share of yes
    # MMVP: ours reads the option texts; lmms-eval reads nothing in "The door is open." and "A" in "a closed"
    assert ours["mmvp"]["accuracy"] == approx(100) and ours["mmvp"]["pair_accuracy"] == approx(100)
    assert lmms["mmvp/mmvp_accuracy"] == approx(0.5) and lmms["mmvp/mmvp_pair_accuracy"] == approx(0)
    # CV-Bench: ours 4 of 5 (2D = mean(ADE20K 100, COCO 50), 3D 100); lmms-eval the plain share of
    # answers whose first letter is right: 2 of 5
    assert ours["cvbench"]["2d"] == approx(75) and ours["cvbench"]["3d"] == approx(100)
    assert ours["cvbench"]["overall"] == approx(87.5)
    assert lmms["cv_bench/cv_bench_acc"] == approx(0.4)
    # V*: the last option "white" (before the instruction line) is read by ours only
    assert ours["vstar"]["direct_attributes"] == approx(100) and ours["vstar"]["overall"] == approx(75)
    assert lmms["vstar_bench/vstar_overall_acc"] == approx(50)  # lmms-eval's V* is in percent
    # HR-Bench: ours only (lmms-eval's task asks GPT for what its rules cannot read: refused)
    assert ours["hrbench"]["overall"] == approx(50)
    # RefCOCO with 0-1 boxes: the same IoUs on both sides
    assert ours["refcoco"]["val/acc@0.5"] == approx(100) and ours["refcoco"]["val/miou"] == approx(90)
    assert lmms["refcoco_bbox_rec_val/refcoco_ACC@0.5"] == approx(1)
    assert lmms["refcoco_bbox_rec_val/refcoco_IoU"] == approx(0.9)

    res = dig_eval("compare", run)
    assert res.exit_code == 0, res.output
    rows = {(c[0], c[1]): c[2] for c in ([x.strip() for x in line.split("|")[1:-1]]
                                         for line in res.output.splitlines() if line.startswith("|"))}
    for bench, metric, value in [
            ("pope", "accuracy", "87.50"), ("lmms-eval", "pope/pope_accuracy", "0.375"),
            ("mmvp", "pair_accuracy", "100.00"), ("lmms-eval", "mmvp/mmvp_pair_accuracy", "0.00"),
            ("cvbench", "overall", "87.50"), ("lmms-eval", "cv_bench/cv_bench_acc", "0.400"),
            ("vstar", "overall", "75.00"), ("lmms-eval", "vstar_bench/vstar_overall_acc", "50.00"),
            ("hrbench", "overall", "50.00"),
            ("refcoco", "val/acc@0.5", "100.00"), ("lmms-eval", "refcoco_bbox_rec_val/refcoco_ACC@0.5", "1.00")]:
        assert rows[(bench, metric)] == value, (bench, metric, rows.get((bench, metric)))
