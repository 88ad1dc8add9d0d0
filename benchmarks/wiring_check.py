"""Is the training stack wired right? The nano demo, scored against two floors, with optional sabotage.

Runs ``configs/pipelines/nano-demo.yaml`` (``dig run``: one-object DiG-1 pairs rendered by Blender,
the shipped nano base trained by the ``trl`` trainer - SFT, then GRPO - and the base, SFT and GRPO
checkpoints scored by ``dig eval`` on held-out pairs in their own seed namespace), adds the
image-blind floor (every held-out pair answered with the training pairs' mean box, scored by the same
``dig`` evaluator through ``model.name=predictions``) and prints one table and a verdict:

* **learned**: the trained model's held-out accuracy part (the ``dig`` evaluator's ``accuracy``: the
  reward's accuracy part; the better of the SFT and GRPO checkpoints) is ``--margin`` points above
  both the base and the mean-box floor, and GRPO does not lose more than ``--grpo-tolerance`` of the
  held-out reward SFT reached.

``--sabotage KIND`` runs the same pipeline with one deliberate wiring error, applied in this process
only (the installed packages are untouched):

* ``labels``: each pair's label (boxes and count) is attached to the next pair's images;
* ``coords``: the boxes are given in the wrong coordinate convention (pixels where the model's
  convention is 0-1000; the SFT targets and the GRPO reward's labels both use it);
* ``reward-sign``: GRPO is handed the negated reward (the logged rewards stay the true ones).

The exit status is 0 for "learned", 1 for "not learned", 2 when a step failed. A stack wired right says "learned"
without sabotage and "not learned" with each of them: tests/train_trl/test_trl_learning.py asserts
the first in CI and the others on request (``DIG_SABOTAGE=1``).

    python benchmarks/wiring_check.py --work runs/wiring
    python benchmarks/wiring_check.py --work runs/wiring-labels --sabotage labels
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "configs" / "pipelines" / "nano-demo.yaml"
BASE = ROOT / "tests" / "assets" / "nano-base"
SABOTAGE = ("labels", "coords", "reward-sign")
METRICS = ("format", "f1", "miou", "acc@0.5", "accuracy", "reward")


def sabotage(kind: str) -> None:
    """Patch the trl trainer's data or reward in this process with one wiring error."""
    import dig_train_trl.data as data
    import dig_train_trl.reward as reward

    load_rows = data.load_rows
    if kind == "labels":
        def shifted(*args, **kwargs):
            return {stage: [replace(r, text=rows[(i + 1) % len(rows)].text, label=rows[(i + 1) % len(rows)].label)
                            for i, r in enumerate(rows)] for stage, rows in load_rows(*args, **kwargs).items()}
        data.load_rows = shifted
    elif kind == "coords":
        def in_pixels(*args, **kwargs):
            # the boxes stay in pixels while the label claims a 1000 x 1000 image: rel1000 == pixels
            return {stage: [replace(r, label=replace(r.label, width=1000.0, height=1000.0)) for r in rows]
                    for stage, rows in load_rows(*args, **kwargs).items()}
        data.load_rows = in_pixels
    elif kind == "reward-sign":
        score = reward.DigRewardFunc.__call__
        reward.DigRewardFunc.__call__ = lambda self, *a, **k: [-r for r in score(self, *a, **k)]


def run_cli(*args: str) -> None:
    """``dig ARGS`` in this process (so a sabotage applies); a failure exits 2 (1 means "not learned")."""
    from dig_core.cli import main

    try:
        main(list(args))
    except SystemExit as e:  # click ends every command with one
        if e.code:
            raise SystemExit(2) from e


def metrics(run: Path) -> dict[str, float]:
    m = json.loads((run / "dig" / "metrics.json").read_text())["metrics"]
    return {k: float(m[k]) for k in METRICS}


def mean_box_floor(train: Path, held_out: Path, out: Path) -> dict[str, float]:
    """Every held-out pair answered with the training pairs' mean box (0-1000), scored by ``dig eval``."""
    from dig_core.data.dataset import read_annotations

    boxes = [[v * 1000.0 / (p["width"], p["height"])[i % 2] for i, v in enumerate(b)]
             for p in read_annotations(train) for b in p["boxes"]]
    mean = [round(sum(b[i] for b in boxes) / len(boxes)) for i in range(4)]
    out.mkdir(parents=True, exist_ok=True)
    answers = out / "mean-box.jsonl"
    answers.write_text("".join(json.dumps({"benchmark": "dig", "id": p["id"], "completion": json.dumps([mean])}) + "\n"
                               for p in read_annotations(held_out)))
    run_cli("eval", "--out", str(out / "eval"), "--no-progress", "model.name=predictions",
            f"model.params.path={answers}", "model.params.coords=rel1000", "evaluator.name=dig",
            f"evaluator.params.dataset={held_out}")
    return metrics(out / "eval")


def verdict(s: dict[str, dict[str, float]], margin: float, tolerance: float) -> list[str]:
    """What is missing for "learned" (empty: it learned). The accuracy part is the ``dig``
    evaluator's ``accuracy``: that of the reward the run was configured with. The trained model is
    the better of the SFT and GRPO checkpoints: 200 SFT steps sit on a steep part of the curve, so
    where SFT alone lands depends on the CPU's floating-point kernels (23.3 on one machine, 10.1 on
    an AVX-512 EPYC with the same data), while a wiring error leaves both at the floor."""
    acc = {name: m["accuracy"] for name, m in s.items()}
    floor = max(acc["base"], acc["floor"])
    trained = max(acc["sft"], acc["grpo"])
    missing = []
    if trained < floor + margin:
        missing.append(f"trained: held-out accuracy part {trained:.1f} (SFT {acc['sft']:.1f}, GRPO {acc['grpo']:.1f}) "
                       f"is not {margin:g} above the floor {floor:.1f} (base {acc['base']:.1f}, "
                       f"mean box {acc['floor']:.1f})")
    if s["grpo"]["reward"] < s["sft"]["reward"] - tolerance:
        missing.append(f"GRPO: held-out reward fell from {s['sft']['reward']:.3f} to {s['grpo']['reward']:.3f}")
    return missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, help="run folder (a rerun resumes; default runs/wiring-check[-SABOTAGE])")
    ap.add_argument("--sabotage", choices=SABOTAGE, help="one deliberate wiring error (see above)")
    ap.add_argument("--margin", type=float, default=10.0,
                    help="accuracy-part points (0-100) SFT must beat the base and the mean-box floor by")
    ap.add_argument("--grpo-tolerance", type=float, default=0.04, help="held-out reward GRPO may lose")
    ap.add_argument("overrides", nargs="*", help="pipeline overrides, e.g. steps.train.config.trainer.params.sft_max_steps=240")
    a = ap.parse_args()
    work = a.work or Path("runs/wiring-check" + (f"-{a.sabotage}" if a.sabotage else ""))
    work.mkdir(parents=True, exist_ok=True)
    (work / "scores.json").unlink(missing_ok=True)
    # dig run skips a finished step whose config is unchanged, and a sabotage is no config: a folder
    # last trained with another wiring trains again
    wiring, last = work / "wiring.txt", None
    if wiring.is_file():
        last = wiring.read_text().strip()
    again = ["--from", "train"] if last is not None and last != (a.sabotage or "right") else []
    wiring.write_text((a.sabotage or "right") + "\n")
    if a.sabotage:
        sabotage(a.sabotage)
    run = work / "nano-demo"
    t0 = time.time()
    run_cli("run", str(PIPELINE), f"run_dir={run}", f"vars.base={BASE}", "--no-progress", *again, *a.overrides)
    scores = {"base": metrics(run / "eval-base"), "floor": mean_box_floor(run / "data", run / "bench", work / "floor"),
              "sft": metrics(run / "eval-sft"), "grpo": metrics(run / "eval-trained")}
    print(f"\nnano demo{f' with sabotage {a.sabotage}' if a.sabotage else ''}: held-out pairs "
          f"({time.time() - t0:.0f} s)\n")
    print("checkpoint | format | F1 | mIoU | Acc@0.5 | accuracy part | reward")
    print("--- | --- | --- | --- | --- | --- | ---")
    for name, label in (("base", "base"), ("floor", "mean box (image-blind)"), ("sft", "after SFT"),
                        ("grpo", "after GRPO")):
        m = scores[name]
        print(f"{label} | {m['format']:.1f} | {m['f1']:.1f} | {m['miou']:.1f} | {m['acc@0.5']:.1f} | "
              f"{m['accuracy']:.1f} | {m['reward']:.3f}")
    missing = verdict(scores, a.margin, a.grpo_tolerance)
    print("\nverdict:", "learned" if not missing else "not learned: " + "; ".join(missing))
    (work / "scores.json").write_text(json.dumps({"sabotage": a.sabotage, "scores": scores, "missing": missing}, indent=1))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
