"""The loop learns: the shipped nano base (tests/assets/nano-base), trained briefly by the ``trl``
trainer on one-object DiG-1 pairs rendered here by Blender, finds differences in held-out pairs that
it could not find before, and GRPO keeps (does not undo) what SFT taught.

Held-out pairs come from their own seed namespace and are scored by ``dig eval`` (the ``dig``
evaluator, no trainer code). Two floors make "learned" mean "reads the images":

* the base model itself (it knows where objects are, but not the DiG question);
* the best image-blind answer: the training pairs' mean box, the same for every held-out pair
  (``model.name=predictions``). A model trained on labels that do not belong to their images can
  learn that prior and no more.

The negative controls (``DIG_SABOTAGE=1``, ≈ 4 min each, run by hand; their results are in
docs/training.md) train through ``tests/train_trl/sabotage.py`` with one wiring error each - labels
attached to the next pair's images, boxes in the wrong coordinate convention, the reward's sign
flipped - and assert that :func:`learned` then fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy", reason="needs Blender (dig-render-blender) to render the pairs")
pytest.importorskip("trl", reason="trl is not installed (pip install dig-train-trl)")
pytest.importorskip("dig_eval")

from dig_core.dataset import read_annotations  # noqa: E402

from tests.helpers import dig  # noqa: E402

pytestmark = pytest.mark.render

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests" / "assets" / "nano-base"
CONFIG = ROOT / "configs" / "nano-one.yaml"
# one object per scene: the difference is the scene's one object (changed in place)
SCENE = ["scene.max_objects=1", "perturbations.weights.add=0", "perturbations.weights.remove=0",
         "curriculum.stages.0.min_area=0", "curriculum.stages.0.min_contrast=0",
         "generate.workers=2", "generate.threads=1", "generate.progress=false"]
TRAIN_PAIRS, HELD_OUT_PAIRS = 96, 32
TRAIN = ["trainer.name=trl", "trainer.params.device=cpu", "trainer.params.max_new_tokens=24",
         "trainer.params.report_to=[]", "trainer.params.seed=0",
         # SFT warm start on the DiG answers
         "trainer.params.sft_max_steps=120", "trainer.params.sft_batch_size=8",
         "trainer.params.sft_learning_rate=1e-3", "trainer.params.sft_lr_scheduler_type=cosine",
         "trainer.params.sft_warmup_steps=10", "trainer.params.sft_eval_steps=1000",
         "trainer.params.sft_augment=[swap]",
         # GRPO: 2 prompts x G = 4 completions a step
         "trainer.params.max_steps=16", "trainer.params.num_generations=4", "trainer.params.prompts_per_step=2",
         "trainer.params.learning_rate=2e-4", "trainer.params.beta=0.0", "trainer.params.first_stage_beta=null",
         "trainer.params.save_steps=-1"]
#: held-out accuracy part (0.5 F1 + 0.5 mIoU, percent) the SFT model must beat both floors by
MARGIN = 10.0
#: how much held-out reward GRPO may lose against its SFT start (sampling noise on 32 pairs)
GRPO_TOLERANCE = 0.03


def render(out: Path, *args: str) -> None:
    r = dig("generate", "--config", str(CONFIG), "--out", str(out), *SCENE, *args, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("learning")
    train, held_out = root / "train", root / "held-out"
    render(train, "seed=31", f"curriculum.stages.0.pairs={TRAIN_PAIRS}")
    render(held_out, "seed_namespace=learning-test-held-out-v1", f"curriculum.stages.0.pairs={HELD_OUT_PAIRS}")
    return train, held_out


def evaluate(out: Path, held_out: Path, *model: str) -> dict[str, float]:
    r = dig("eval", "--config", str(CONFIG), "--out", str(out), "--no-progress", "evaluator.name=dig",
            f"evaluator.params.dataset={held_out}", *model, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "dig" / "metrics.json").read_text())
    return {k: m[k] for k in ("format", "f1", "miou", "acc@0.5", "reward")}


def accuracy_part(m: dict[str, float]) -> float:
    return 0.5 * m["f1"] + 0.5 * m["miou"]


def mean_box_answers(train: Path, held_out: Path, out: Path) -> Path:
    """The image-blind floor: every held-out pair answered with the training pairs' mean box (0-1000)."""
    boxes = [[v * 1000.0 / (p["width"], p["height"])[i % 2] for i, v in enumerate(b)]
             for p in read_annotations(train) for b in p["boxes"]]
    mean = [round(sum(b[i] for b in boxes) / len(boxes)) for i in range(4)]
    lines = [json.dumps({"benchmark": "dig", "id": p["id"], "completion": json.dumps([mean])})
             for p in read_annotations(held_out)]
    out.write_text("\n".join(lines) + "\n")
    return out


def learn(train: Path, held_out: Path, root: Path, sabotage: str | None = None) -> dict[str, dict[str, float]]:
    """Train the shipped base on ``train`` (SFT, then GRPO) and score base, floor, SFT and GRPO."""
    run = root / "run"
    args = ["train", "--config", str(CONFIG), f"trainer.params.model={BASE}", f"trainer.params.data={train}",
            f"trainer.params.run_dir={run}", *TRAIN]
    cmd = ([sys.executable, str(Path(__file__).with_name("sabotage.py")), sabotage, *args] if sabotage
           else [sys.executable, "-m", "dig_core", *args])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT,
                       env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert r.returncode == 0, r.stderr[-3000:]
    hf = ["model.name=hf", "model.params.device=cpu", "model.params.max_new_tokens=24", "model.params.batch_size=16"]
    return {
        "base": evaluate(root / "eval-base", held_out, *hf, f"model.params.path={BASE}"),
        "floor": evaluate(root / "eval-floor", held_out, "model.name=predictions", "model.params.coords=rel1000",
                          f"model.params.path={mean_box_answers(train, held_out, root / 'mean-box.jsonl')}"),
        "sft": evaluate(root / "eval-sft", held_out, *hf, f"model.params.path={run / 'sft' / 'checkpoint'}"),
        "grpo": evaluate(root / "eval-grpo", held_out, *hf, f"model.params.path={run / 'dig-1' / 'checkpoint'}"),
    }


def learned(s: dict[str, dict[str, float]]) -> list[str]:
    """What is missing for "it learned" (empty: it did)."""
    floor = max(accuracy_part(s["base"]), accuracy_part(s["floor"]))
    missing = []
    if accuracy_part(s["sft"]) < floor + MARGIN:
        missing.append(f"SFT: held-out accuracy part {accuracy_part(s['sft']):.1f} is not {MARGIN} above the floor "
                       f"{floor:.1f} (base {accuracy_part(s['base']):.1f}, mean box {accuracy_part(s['floor']):.1f})")
    if s["grpo"]["reward"] < s["sft"]["reward"] - GRPO_TOLERANCE:
        missing.append(f"GRPO: held-out reward fell from {s['sft']['reward']:.3f} to {s['grpo']['reward']:.3f}")
    return missing


def test_training_the_nano_base_finds_differences_in_held_out_pairs(pairs, tmp_path):
    scores = learn(*pairs, tmp_path)
    print(json.dumps(scores, indent=1))
    assert not learned(scores), scores


@pytest.mark.skipif(not os.environ.get("DIG_SABOTAGE"), reason="negative controls, ≈ 4 min each: DIG_SABOTAGE=1")
@pytest.mark.parametrize("kind", ["labels", "coords", "reward-sign"])
def test_a_wiring_error_fails_the_learning_check(pairs, tmp_path, kind):
    scores = learn(*pairs, tmp_path, sabotage=kind)
    print(kind, json.dumps(scores, indent=1))
    assert learned(scores), f"{kind}: the learning check passed despite the wiring error: {scores}"
