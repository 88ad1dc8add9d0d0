"""Does DiG training teach a model to find differences? The DiG-nano study on a CPU.

Runs ``configs/pipelines/nano.yaml`` (``dig run``: Blender nano pairs and the held-out nano bench,
the shipped nano base (the grounding base-model stage), SFT warm start, GRPO DiG-1 -> DiG-2 ->
DiG-Mix with the ``trl`` trainer, ``dig eval`` of every checkpoint) once per seed, then the
ablations at equal training steps:

* ``mix-only``: GRPO on DiG-Mix alone for as many steps as the curriculum's three stages (Fig. 3);
* ``f1-only`` / ``iou-only``: the reward's lambda_f1 = 1 or lambda_iou = 1 (Table 4);

and prints, per checkpoint and arm, the held-out metrics as mean ± sd over the seeds beside the
chance baseline (boxing one random object of the scene, ``chance/*`` of the ``dig`` evaluator).
Everything lands in one pipeline run folder (``--work``), so the renders are made once and skipped
afterwards; each arm's eval metrics and reward logs are copied to ``WORK/results/<arm>-s<seed>/``
before the next arm runs, and a rerun skips arms already there.

    python benchmarks/learning.py                       # one seed of the main study
    python benchmarks/learning.py --seeds 0 1 2 --ablations
    python benchmarks/learning.py --arms main mix-only   # the curriculum ablation alone
    python benchmarks/learning.py --print-only          # the table of what WORK/results holds

Any pipeline override can be appended after ``--``, e.g. ``-- steps.train.config.trainer.params.max_steps=30``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "configs" / "pipelines" / "nano.yaml"
EVALS = ("eval-base", "eval-sft", "eval-dig-1", "eval-dig-2", "eval-dig-mix")
#: (benchmark, metric) columns of the table
COLUMNS = (("nano-dig-1", "acc@0.5"), ("nano-dig-1", "reward"), ("nano-dig-2", "reward"),
           ("nano-dig-mix", "reward"), ("nano-dig-mix", "f1"), ("grounding", "dig-1/acc@0.5"))
TRAIN = "steps.train.config.trainer.params"
ARMS = {
    "main": [],
    "mix-only": [f"{TRAIN}.grpo_stages=[dig-mix]", "vars.after_dig_1=sft", "vars.after_dig_2=sft", "ABLATE_STEPS"],
    "f1-only": ["steps.train.config.reward.params.lambda_f1=1.0", "steps.train.config.reward.params.lambda_iou=0.0"],
    "iou-only": ["steps.train.config.reward.params.lambda_f1=0.0", "steps.train.config.reward.params.lambda_iou=1.0"],
}


def dig_run(work: Path, args: list[str]) -> float:
    t0 = time.time()
    cmd = [sys.executable, "-m", "dig_core", "run", str(PIPELINE), f"run_dir={work}", *args]
    print("$", " ".join(cmd[2:]), flush=True)
    r = subprocess.run(cmd)
    if r.returncode:
        sys.exit(f"dig run failed ({r.returncode}); rerun the same command to resume")
    return time.time() - t0


def grpo_steps(work: Path, overrides: list[str]) -> int:
    """The main arm's GRPO steps per stage (the train step's trainer.params.max_steps)."""
    from dig_core.pipeline.spec import load_pipeline

    p = load_pipeline(PIPELINE, overrides, run_dir=str(work))
    return int(p.step("train").config.trainer.params.max_steps)


def collect(work: Path, dest: Path, evals: tuple[str, ...]) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name in evals:
        for f in (work / name).glob("*/metrics.json"):
            (tmp / name / f.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, tmp / name / f.parent.name / "metrics.json")
    for f in (work / "train").glob("*/rewards.jsonl"):
        (tmp / "train" / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, tmp / "train" / f.parent.name / "rewards.jsonl")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def metric(folder: Path, bench: str, key: str) -> float | None:
    path = folder / bench / "metrics.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())["metrics"].get(key)


def cell(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.mean(values):.3g} ± {statistics.stdev(values):.2g}"


def table(results: Path, seeds: list[int]) -> None:
    arms = [a for a in ARMS if any((results / f"{a}-s{s}").is_dir() for s in seeds)]
    head = ["arm", "checkpoint", *(f"{b}:{k}" for b, k in COLUMNS)]
    print("\n" + " | ".join(head))
    print(" | ".join("---" for _ in head))
    chance_done = False
    for arm in arms:
        folders = [results / f"{arm}-s{s}" for s in seeds if (results / f"{arm}-s{s}").is_dir()]
        for ev in EVALS:
            vals = [[metric(f / ev, b, k) for f in folders] for b, k in COLUMNS]
            if all(v is None for col in vals for v in col):
                continue
            print(" | ".join([arm, ev.removeprefix("eval-"), *(cell([v for v in col if v is not None]) for col in vals)]))
            if not chance_done:  # the same bench pairs for every checkpoint: one chance row
                ch = [[metric(f / ev, b, f"chance/{k}") for f in folders] for b, k in COLUMNS]
                print(" | ".join(["chance", "(random object)", *(cell([v for v in col if v is not None]) for col in ch)]))
                chance_done = True
    print(f"\nseeds {seeds}; percentages except reward; chance: boxing one random object of the scene "
          "(its exact box when it is a changed one)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / "runs" / "learning"), help="pipeline run folder (shared by all arms)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--ablations", action="store_true", help="also run mix-only, f1-only and iou-only")
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), help="run these arms (default: main, or all with --ablations)")
    ap.add_argument("--print-only", action="store_true")
    ap.add_argument("overrides", nargs="*", help="pipeline overrides (after --)")
    a = ap.parse_args()
    work = Path(a.work).resolve()
    results = work.parent / (work.name + "-results")
    if not a.print_only:
        arms = a.arms or (list(ARMS) if a.ablations else ["main"])
        for seed in a.seeds:
            for arm in arms:
                dest = results / f"{arm}-s{seed}"
                if dest.is_dir():
                    print(f"{dest.name}: done before, skipped", flush=True)
                    continue
                extra = [x for x in ARMS[arm] if x != "ABLATE_STEPS"]
                if "ABLATE_STEPS" in ARMS[arm]:  # as many GRPO steps as the curriculum's three stages
                    extra.append(f"{TRAIN}.stages.dig-mix.max_steps={3 * grpo_steps(work, list(a.overrides))}")
                secs = dig_run(work, [f"vars.seed={seed}", *extra, *a.overrides])
                evals = EVALS if arm != "mix-only" else ("eval-base", "eval-sft", "eval-dig-mix")
                collect(work, dest, evals)
                print(f"{dest.name}: {secs / 60:.1f} min", flush=True)
    table(results, a.seeds)


if __name__ == "__main__":
    main()
