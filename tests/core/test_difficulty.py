"""Difficulty controls without Blender (docs/difficulty.md): measures on hand-made renders, the color
distance, stage-quota type balance, each knob's direction (with the flat swatch renderer of
test_generate_core), no-difference control pairs end to end through `dig generate` and `dig score`.
tests/generate/test_difficulty_render.py checks the same on real Blender renders."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.config import load_config
from dig_core.curriculum import PAPER_STAGES
from dig_core.data.dataset import read_annotations, read_manifest
from dig_core.difficulty import color_distance, measure_difference
from dig_core.errors import ConfigError, SamplingError
from dig_core.generate import attempt_seed, generate, plan
from dig_core.perturbations.base import EditContext
from dig_core.reward import DigReward
from dig_core.sampling import (
    build_perturbations,
    edit_context,
    sample_scene,
    sample_typed_edits,
    vocabulary_from_config,
)
from dig_core.spec import Vocabulary
from dig_core.task import DigTask

from tests.core.test_generate_core import TINY, SwatchRenderer
from tests.helpers import answer_score, plugin_with, registered

VOCAB = Vocabulary.default()
GRAY, GREEN = VOCAB.colors["gray"], VOCAB.colors["green"]


@pytest.fixture(scope="module")
def swatch():
    with registered(plugin_with(register_renderers=[SwatchRenderer])) as pm:
        yield pm


def _cfg(*extra):
    return load_config(None, [*TINY, *extra], sections=("renderer",))


def _one_stage(pairs, k_min=1, k_max=1, **knobs):
    out = [f"curriculum.stages=[{{name: s, k_min: {k_min}, k_max: {k_max}, count_in_prompt: false, "
           f"pairs: {pairs}}}]"]
    return out + [f"curriculum.stages[0].{k}={v}" for k, v in knobs.items()]


def _measures(root):
    return [m for r in read_annotations(root) for m in r["measures"]]


# -- measures on hand-checkable images ----------------------------------------------------------------
def test_measures_of_a_gray_to_green_square_in_the_centre():
    a = np.full((40, 60, 3), 200, np.uint8)
    b = a.copy()
    a[15:25, 25:35] = GRAY
    b[15:25, 25:35] = GREEN
    mask = np.zeros((40, 60), bool)
    mask[15:25, 25:35] = True
    m = measure_difference(mask, [25, 15, 35, 25], a, b)
    assert m["area"] == 100 and m["area_share"] == pytest.approx(100 / 2400, abs=1e-6)
    assert m["contrast"] == pytest.approx(color_distance(GRAY, GREEN), abs=1e-3)
    assert m["center_dist"] == 0.0 and m["border_dist"] == pytest.approx(15 / 40)
    # mean |RGB| (47.7 of 255) under-rates this change; ΔE (55, "clearly different") does not
    assert np.abs(a[mask].astype(int) - b[mask]).mean() / 255 < 0.2 and m["contrast"] > 50
    corner = measure_difference(mask, [0, 0, 10, 10], a, b)
    assert corner["border_dist"] == 0.0 and corner["center_dist"] > 0.7


def test_color_distance_orders_near_and_opposite_hues():
    c = VOCAB.colors
    assert color_distance(c["red"], c["red"]) == 0.0
    assert color_distance(c["red"], c["brown"]) < color_distance(c["red"], c["cyan"])
    assert color_distance(c["blue"], c["purple"]) < color_distance(c["blue"], c["yellow"])


def test_a_color_edit_between_identical_colors_is_impossible_and_rejected():
    d = VOCAB.to_dict()
    d["colors"] = {"gray": [87, 87, 87], "grey": [87, 87, 87]}  # two names, one color
    vocab = Vocabulary.from_dict(d)
    cfg = load_config(None, ["scene.min_objects=3", "scene.max_objects=3"], sections=())
    ctx = EditContext(vocab=vocab)
    perts = build_perturbations(load_config(None, [], sections=()))
    scene = sample_scene(cfg.scene, vocab, 1)
    assert not any(perts["color"].applies_to(scene, o, ctx) for o in scene.objects)
    with pytest.raises(SamplingError):
        sample_typed_edits(scene, ["color"], perts, ctx, random.Random(0), 20)


# -- type balance -----------------------------------------------------------------------------------
@pytest.mark.parametrize("weights", [
    {"shape": 1, "color": 1, "size": 1, "material": 1, "add": 1, "remove": 1},
    {"shape": 1, "color": 3, "size": 0.5, "material": 1, "add": 2, "remove": 1},
])
def test_planned_type_frequencies_match_the_weights_per_stage(weights):
    overrides = [f"perturbations.weights.{k}={v}" for k, v in weights.items()]
    cfg = load_config(None, [*overrides, *_one_stage(400, 1, 4)], sections=())
    counts = Counter(t for it in plan(cfg) for t in it.types)
    n, total = sum(counts.values()), sum(weights.values())
    assert n == sum(it.k for it in plan(cfg)) and n > 400 * 2
    for t, w in weights.items():
        assert abs(counts[t] / (n * w / total) - 1) <= 0.10, (t, counts)


def test_planned_types_are_realised_by_the_sampler():
    """PairMaker's draw loop minus the renders: every pair gets exactly its planned types."""
    cfg = load_config(None, _one_stage(60, 1, 4), sections=())
    vocab = vocabulary_from_config(cfg.scene)
    ctx, perts = edit_context(cfg.scene, vocab), build_perturbations(cfg)
    realised: Counter[str] = Counter()
    planned: Counter[str] = Counter()
    for it in plan(cfg):
        planned.update(it.types)
        for attempt in range(cfg.validity.max_resamples):
            seed = attempt_seed(it, attempt)
            try:
                _, diffs = sample_typed_edits(sample_scene(cfg.scene, vocab, seed), list(it.types), perts, ctx,
                                              random.Random(seed), cfg.perturbations.max_attempts)
            except SamplingError:
                continue
            assert sorted(d.type for d in diffs) == sorted(it.types)
            realised.update(d.type for d in diffs)
            break
    assert realised == planned


def test_manifest_reports_realised_types_per_stage(swatch, tmp_path):
    out = tmp_path / "quota"
    generate(_cfg(), out)
    by_stage = read_manifest(out)["counts"]["by_stage_type"]
    recs = list(read_annotations(out))
    for stage in ("dig-1", "dig-2", "dig-mix"):
        want = Counter(d["type"] for r in recs if r["stage"] == stage for d in r["differences"])
        assert by_stage[stage] == dict(want)
    assert Counter(t for it in plan(_cfg()) for t in it.types) == Counter(
        d["type"] for r in recs for d in r["differences"])


# -- knobs: each moves the measured distribution its way ---------------------------------------------
@pytest.fixture(scope="module")
def free(swatch, tmp_path_factory):
    out = tmp_path_factory.mktemp("knobs") / "free"
    generate(_cfg(*_one_stage(16)), out)
    return _measures(out)


def _knob(tmp_path, **knobs):
    out = tmp_path / "knob"
    generate(_cfg(*_one_stage(16, **knobs), "validity.max_resamples=200"), out)
    return _measures(out), read_manifest(out)["counts"]["rejected"]


def test_min_area_makes_differences_larger(free, tmp_path):
    floor = float(np.median([m["area_share"] for m in free]))
    got, rejected = _knob(tmp_path, min_area=floor)
    assert min(m["area_share"] for m in got) >= floor > min(m["area_share"] for m in free)
    assert rejected["area"] > 0


def test_max_area_makes_differences_smaller(free, tmp_path):
    cap = float(np.median([m["area_share"] for m in free]))
    got, rejected = _knob(tmp_path, max_area=cap)
    assert max(m["area_share"] for m in got) <= cap < max(m["area_share"] for m in free)
    assert rejected["area"] > 0


def test_max_contrast_makes_differences_subtler(free, tmp_path):
    cap = float(np.median([m["contrast"] for m in free]))
    got, rejected = _knob(tmp_path, max_contrast=cap)
    assert max(m["contrast"] for m in got) <= cap < max(m["contrast"] for m in free)
    assert rejected["contrast"] > 0


def test_min_contrast_makes_differences_plainer(free, tmp_path):
    floor = float(np.median([m["contrast"] for m in free]))
    got, _ = _knob(tmp_path, min_contrast=floor)
    assert min(m["contrast"] for m in got) >= floor > min(m["contrast"] for m in free)


@pytest.mark.parametrize("where,key", [("center", "center_dist"), ("border", "border_dist")])
def test_location_moves_differences(free, tmp_path, where, key):
    got, rejected = _knob(tmp_path, location=where)
    assert np.mean([m[key] for m in got]) < np.mean([m[key] for m in free])
    assert rejected["location"] > 0


def test_color_distance_knobs_make_color_edits_subtle_or_plain(swatch, tmp_path):
    only_color = [f"perturbations.weights.{k}=0" for k in ("shape", "size", "material", "add", "remove")]
    runs = {}
    for name, knobs in (("near", ["curriculum.stages[0].max_color_distance=45"]),
                        ("far", ["curriculum.stages[0].min_color_distance=90"])):
        out = tmp_path / name
        generate(_cfg(*_one_stage(10), *only_color, *knobs), out)
        recs = list(read_annotations(out))
        dist = [color_distance(VOCAB.colors[d["before"]["color"]], VOCAB.colors[d["after"]["color"]])
                for r in recs for d in r["differences"]]
        runs[name] = (dist, [m["contrast"] for m in _measures(out)])
    assert max(runs["near"][0]) <= 45 and min(runs["far"][0]) >= 90
    assert np.mean(runs["near"][1]) < np.mean(runs["far"][1])


def test_knob_errors_are_reported_together():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["curriculum.stages[0].min_area=0.5", "curriculum.stages[0].max_area=0.1",
                           "curriculum.stages[1].min_contrast=-1", "curriculum.stages[2].location=edge",
                           "curriculum.stages[2].max_color_distance=-3", "perturbations.balance=lucky",
                           "curriculum.stages[0].k_min=0"], sections=())
    msg = str(e.value)
    for part in ("min_area", "min_contrast", "location 'edge'", "max_color_distance", "balance",
                 "count_in_prompt: false"):
        assert part in msg, part


# -- control pairs ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def controls(swatch, tmp_path_factory):
    out = tmp_path_factory.mktemp("controls") / "c"
    generate(_cfg(*_one_stage(8, 0, 1)), out)
    return out


def test_control_pairs_are_the_same_spec_rendered_twice(controls):
    from dig_core.data.pairs import load_pair

    recs = list(read_annotations(controls))
    k0 = [r for r in recs if not r["boxes"]]
    assert k0 and len(k0) < len(recs)  # both kinds in the stage
    for r in k0:
        assert r["differences"] == [] and r["measures"] == [] and r["scene_a"] == r["scene_b"]
        a, b = load_pair(controls, r)
        assert np.array_equal(a, b)
    assert read_manifest(controls)["counts"]["by_k"]["0"] == len(k0)


def test_control_stage_prompt_never_says_one_or_more():
    task = DigTask()
    cfg = load_config(None, _one_stage(2, 0, 2), sections=())
    stage = cfg.curriculum.stages[0]
    for k in (0, 1, 2):
        text = task.stage_prompt(stage, k, 96, 64)
        assert "one or more" not in text and "exactly" not in text and "[]" in text
    assert "one or more" in task.stage_prompt(PAPER_STAGES[2], 2, 96, 64)


def test_control_pairs_score_through_dig_score(controls, tmp_path):
    recs = list(read_annotations(controls))
    k0 = next(r for r in recs if not r["boxes"])
    k1 = next(r for r in recs if r["boxes"])
    answers = {"empty": "[]", "fenced": "<think>none</think><answer>```json\n[ ]\n```</answer>",
               "box": "[[1, 2, 30, 40]]", "prose": "there are no differences"}
    rows = [{"id": k0["id"], "completion": answers[a]} for a in answers]
    scores = []
    for row in rows:
        preds, out = tmp_path / "p.jsonl", tmp_path / "s.jsonl"
        preds.write_text(json.dumps(row) + "\n")
        r = CliRunner().invoke(load_commands(), ["score", str(preds), "--dataset", str(controls), "--out", str(out)])
        assert r.exit_code == 0, r.output
        scores.append(json.loads(out.read_text()))
    assert [s["reward"] for s in scores] == [1.0, 1.0, 0.0, 0.0]
    assert scores[0]["f1"] == scores[0]["format"] == 1.0
    # an empty answer to a pair with differences still scores 0, as before
    task, reward = DigTask(), DigReward()
    assert answer_score(task, reward, "[]", k1["boxes"], 96, 64).reward == 0.0
    assert [answer_score(task, reward, t, [], 96, 64).reward for t in ("[]", "[[0,0,5,5]]")] == [1.0, 0.0]


def test_control_datasets_load_with_datasets(controls, tmp_path, monkeypatch):
    import datasets

    monkeypatch.chdir(tmp_path)
    train = datasets.load_dataset(str(controls), split="train", cache_dir=str(tmp_path / "cache"))
    assert [len(b) for b in train["boxes"]] == [len(r["boxes"]) for r in read_annotations(controls)]


# -- dig show / dig audit filters ---------------------------------------------------------------------
def test_show_and_audit_filter_by_measures(controls, tmp_path):
    from PIL import Image

    recs = list(read_annotations(controls))
    areas = sorted(m["area"] for r in recs for m in r["measures"])
    cut = areas[len(areas) // 2]
    want = [r["id"] for r in recs if any(m["area"] < cut for m in r["measures"])]
    assert 0 < len(want) < len(recs)
    runner, sheet = CliRunner(), tmp_path / "s.png"
    r = runner.invoke(load_commands(), ["show", str(controls), "--where", f"area<{cut}", "--out", str(sheet)])
    assert r.exit_code == 0 and f"drew {len(want)} pairs" in r.output, r.output
    assert Image.open(sheet).height > 0
    r = runner.invoke(load_commands(), ["audit", str(controls), "--where", f"area<{cut}", "--where", "k>=1"])
    assert r.exit_code == 0 and f"pairs: {len(want)}," in r.output and "difference contrast" in r.output
    r = runner.invoke(load_commands(), ["show", str(controls), "--where", "k==0", "--out", str(sheet)])
    assert r.exit_code == 0 and f"drew {sum(not x['boxes'] for x in recs)} pairs" in r.output
    r = runner.invoke(load_commands(), ["show", str(controls), "--where", "size<3", "--out", str(sheet)])
    assert r.exit_code != 0 and "size<3" in r.output and "area" in r.output and "Traceback" not in r.output


# -- occlusion ------------------------------------------------------------------------------------------
class SwatchAloneRenderer(SwatchRenderer):
    """The swatch renderer, which can also draw one object alone (for occlusion)."""

    PLUGIN_NAME = "swatch-alone-test"

    def render_alone(self, scene, object_ids):
        return {i: self.render(dataclasses.replace(scene, objects=[o for o in scene.objects if o.id == i])).mask(i)
                for i in object_ids}


@pytest.fixture(scope="module")
def alone(swatch):
    with registered(plugin_with(register_renderers=[SwatchAloneRenderer])) as pm:
        yield pm


def test_occlusion_share_by_hand():
    from dig_core.difficulty import occlusion_share

    alone = np.zeros((10, 10), bool)
    alone[2:6, 2:6] = True  # 16 pixels alone
    visible = alone.copy()
    visible[2:6, 2:4] = False  # the left half hidden by another object
    assert occlusion_share(visible, alone) == 0.5
    assert occlusion_share(alone, alone) == 0.0
    assert occlusion_share(np.zeros_like(alone), alone) == 1.0
    assert occlusion_share(np.zeros_like(alone), np.zeros_like(alone)) == 0.0


def test_difference_occlusion_per_edit_type():
    """add: measured in B, remove: in A, attribute edit: the larger of A and B."""
    from dig_core.perturbations.base import Difference
    from dig_core.render import difference_occlusion

    r = SwatchAloneRenderer()
    r.setup(VOCAB, 1)
    scene = sample_scene(_cfg().scene, VOCAB, 3)
    x, y, z = -scene.bounds / 2, 0.0, scene.objects[0].position[2]
    front = scene.objects[0].replace(size="large", position=[x, y, z])
    # the swatch renderer draws far (larger y) objects first: a same-size copy just behind `front`
    # is fully hidden by it; an attribute edit's occlusion is the larger of A's and B's
    hidden = front.replace(id=90, position=[x, y + 1e-3, z])
    a = dataclasses.replace(scene, objects=[front])
    b = dataclasses.replace(scene, objects=[front, hidden])
    ra, rb = r.render(a), r.render(b)
    attrs = hidden.attributes()
    add = Difference("add", 90, {}, attrs)
    remove = Difference("remove", 90, attrs, {})
    assert difference_occlusion([add], a, b, ra, rb, r) == [1.0]
    assert difference_occlusion([remove], b, a, rb, ra, r) == [1.0]
    # an attribute edit (a move here): free in A (0.0), moved right behind `front` in B (1.0)
    far = front.replace(id=92, size="small", position=[-x, y, z])
    a2 = dataclasses.replace(scene, objects=[front, far])
    b2 = dataclasses.replace(scene, objects=[front, far.replace(position=[x, y + 1e-3, z])])
    move = Difference("move", 92, {"position": far.position}, {"position": [x, y + 1e-3, z]})
    ra2, rb2 = r.render(a2), r.render(b2)
    assert ra2.mask(92).sum() > 0 and rb2.mask(92).sum() == 0
    assert difference_occlusion([move], a2, a2, ra2, ra2, r) == [0.0]
    assert difference_occlusion([move], a2, b2, ra2, rb2, r) == [1.0]
    assert difference_occlusion([add], a, b, ra, rb, SwatchRenderer()) == [None]


def test_occlusion_is_none_unless_a_stage_sets_a_knob(free):
    assert free and all("occlusion" in m and m["occlusion"] is None for m in free)


def test_max_occlusion_makes_differences_visible(alone, tmp_path):
    many = ["scene.min_objects=7", "scene.max_objects=9", "renderer.name=swatch-alone-test",
            "validity.max_resamples=300"]
    runs = {}
    for name, cap in (("all", 1.0), ("visible", 0.05)):
        out = tmp_path / name
        generate(_cfg(*_one_stage(16, max_occlusion=cap), *many), out)
        runs[name] = ([m["occlusion"] for m in _measures(out)], read_manifest(out)["counts"]["rejected"])
        assert (out / "difficulty.png").is_file()
    everything, (capped, rejected) = runs["all"][0], runs["visible"]
    assert all(o is not None for o in everything) and max(capped) <= 0.05 < max(everything)
    assert rejected["occlusion"] > 0 and runs["all"][1]["occlusion"] == 0


def test_occlusion_knob_needs_a_renderer_that_renders_alone(swatch, tmp_path):
    from dig_core.errors import DigError

    with pytest.raises(DigError, match="render_alone"):
        generate(_cfg(*_one_stage(2, max_occlusion=0.5)), tmp_path / "x")


def test_occlusion_knob_errors():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["curriculum.stages[0].min_occlusion=0.6", "curriculum.stages[0].max_occlusion=0.2"],
                    sections=())
    assert "min_occlusion" in str(e.value) and "0.6" in str(e.value)


# -- histograms -------------------------------------------------------------------------------------
def test_generate_writes_histograms_and_audit_redraws_them(controls, tmp_path):
    from PIL import Image

    png = controls / "difficulty.png"
    with Image.open(png) as im:
        im.verify()
    with Image.open(png) as im:
        w, h = im.size
        # one row per stage, one chart per measure (occlusion not measured here: 4 charts)
        assert im.format == "PNG" and h >= 100 and w > 4 * 200
        assert (np.asarray(im.convert("RGB")) == (70, 110, 200)).all(axis=2).sum() > 50  # bars drawn
    out = tmp_path / "h.png"
    r = CliRunner().invoke(load_commands(), ["audit", str(controls), "--histograms", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == png.read_bytes()  # drawn from the metadata alone
    png.unlink()
    from dig_core.visualize import write_difficulty_histograms

    assert write_difficulty_histograms(controls) == png and png.read_bytes() == out.read_bytes()


def test_histograms_draw_a_bin_of_one_beside_a_bin_of_thousands():
    """A bin whose bar is under a pixel high (1 among ~2,000 in a 100-pixel chart) is drawn one pixel
    high instead of crashing PIL (seen on the 2,400-pair nano dataset)."""
    from dig_core.visualize import HISTOGRAM_MEASURES, difficulty_histograms

    key = HISTOGRAM_MEASURES[0]
    records = [{"stage": "s", "measures": [{key: 0.0}] * 2000 + [{key: 1.0}]}]
    img = difficulty_histograms(records)
    assert (np.asarray(img.convert("RGB")) == (70, 110, 200)).all(axis=2).sum() > 50
