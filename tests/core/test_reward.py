"""DiG reward (paper eq. 1-3): matching, components, weights, properties (hypothesis)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from dig_core.config import instantiate, load_config
from dig_core.errors import ConfigError
from dig_core.plugins import get_plugin_manager
from dig_core.reward import (
    COMPONENTS,
    DigReward,
    DigRewardConfig,
    iou_matrix,
    match_boxes,
    register_rewards,
    summarize,
)
from dig_core.task import DigTask
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.helpers import answer_score

W, H = 100, 100
TASK = DigTask()
REWARD = DigReward()


def test_registered_through_entry_point():
    assert register_rewards() == [DigReward]
    assert get_plugin_manager().get("reward", "dig") is DigReward


def test_iou_matrix_values():
    iou = iou_matrix(np.array([[0, 0, 10, 10], [5, 0, 15, 10]], float), np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float))
    assert iou == pytest.approx(np.array([[1.0, 0.0], [50 / 150, 0.0]]))


def test_worked_example():
    # 2 GT, 3 predictions: one good (IoU 0.81), one poor (IoU 1/3 < 0.5), one on nothing
    gt = [[10, 10, 20, 20], [40, 40, 60, 60]]
    pred = [[11, 11, 20, 20], [50, 40, 70, 60], [80, 80, 90, 90]]
    r = REWARD.score(pred, gt)
    assert (r.n_pred, r.n_gt, r.n_match, r.format) == (3, 2, 1, 1.0)
    assert r.precision == pytest.approx(1 / 3) and r.recall == pytest.approx(0.5)
    assert r.f1 == pytest.approx(0.4) and r.miou == pytest.approx(0.81)
    assert r.reward == pytest.approx(0.9 * (0.5 * 0.4 + 0.5 * 0.81) + 0.1)
    # the literal reading: every assigned pair counts
    lit = DigReward(DigRewardConfig(min_match_iou=0.0)).score(pred, gt)
    assert lit.n_match == 2 and lit.miou == pytest.approx((0.81 + 1 / 3) / 2)


def test_docs_worked_example():  # docs/reward.md
    text = ("<think>The blue cube moved... I think two objects changed.</think>\n"
            "[[104, 62, 160, 124], [290, 190, 330, 250], [20, 20, 60, 60]]")
    gt = [[100, 60, 160, 120], [300, 200, 340, 260]]
    task = DigTask()
    r = answer_score(task, REWARD, text, gt, 480, 320)
    assert (r.n_match, round(r.f1, 4), round(r.miou, 4), round(r.reward, 4)) == (1, 0.4, 0.8494, 0.6622)
    loose = answer_score(task, DigReward(DigRewardConfig(min_match_iou=0.3)), text, gt, 480, 320)
    assert (loose.n_match, round(loose.f1, 4), round(loose.miou, 4), round(loose.reward, 4)) == (2, 0.8, 0.652, 0.7534)


def test_hungarian_maximises_total_iou():
    # greedy (best pair first) would take pred0-gt0 (0.6) and leave pred1 with IoU 0 on gt1
    gt = [[0, 0, 10, 10], [4, 0, 14, 10]]
    pred = [[2, 0, 12, 10], [0, 0, 10, 10]]
    m = match_boxes(pred, gt, 0.01)
    assert sorted(zip(m.pred, m.gt)) == [(0, 1), (1, 0)]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_matching_equals_brute_force(data):
    pred = data.draw(st.lists(_box, min_size=1, max_size=4))
    gt = data.draw(st.lists(_box, min_size=1, max_size=4))
    iou = iou_matrix(np.array(pred, float), np.array(gt, float))
    k = max(iou.shape)
    square = np.zeros((k, k))
    square[: iou.shape[0], : iou.shape[1]] = iou
    best = max(sum(square[i, j] for i, j in enumerate(perm)) for perm in itertools.permutations(range(k)))
    lit = match_boxes(pred, gt, 0.0)
    assert sum(lit.ious) == pytest.approx(best)


def test_components_for_logging():
    res = [answer_score(TASK, REWARD, t, g, W, H) for t, g in
           (("[[10, 10, 20, 20]]", [[10, 10, 20, 20]]), ("nothing", [[0, 0, 5, 5]]))]
    assert [r.reward for r in res] == [1.0, 0.0] and [r.accuracy for r in res] == [1.0, 0.0]
    assert tuple(res[0].as_dict()) == COMPONENTS
    assert summarize(res)["reward"] == 0.5 and summarize(res)["n_gt"] == 1
    assert answer_score(TASK, REWARD, "[[20, 20, 40, 40]]", [[10, 10, 20, 20]], W, H, 2.0).reward == 1.0


def test_ablation_weights():
    gt, pred = [[0, 0, 10, 10]], [[0, 0, 10, 8]]  # IoU 0.8, F1 1
    iou_only = DigReward(DigRewardConfig(lambda_f1=0, lambda_iou=1, alpha=0)).score(pred, gt)
    f1_only = DigReward(DigRewardConfig(lambda_f1=1, lambda_iou=0, alpha=0)).score(pred, gt)
    assert iou_only.reward == pytest.approx(0.8) and f1_only.reward == pytest.approx(1.0)


def test_weights_validated_through_config():
    cfg = load_config(None, ["reward.params.alpha=0.2", "reward.params.lambda_f1=0.3", "reward.params.lambda_iou=0.7"],
                      sections=("reward",))
    assert instantiate(cfg, "reward", "reward").config.alpha == 0.2
    with pytest.raises(ConfigError) as e:
        load_config(None, ["reward.params.lambda_f1=0.8"], sections=("reward",))
    assert "lambda_f1 + lambda_iou must be 1" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_config(None, ["reward.params.alpha=-0.1", "reward.params.min_match_iou=2"], sections=("reward",))
    assert "alpha must be in [0, 1], got -0.1" in str(e.value) and "min_match_iou must be in [0, 1]" in str(e.value)
    with pytest.raises(ConfigError, match="dig: lambda_f1 \\+ lambda_iou must be 1"):
        DigReward(DigRewardConfig(lambda_f1=1, lambda_iou=1))


def test_literal_reading_rewards_padding():
    # why min_match_iou defaults to 0.5: with 0, a wrong extra box completes the "matching" and
    # raises F1 (here F1 is all of r_acc, as in the paper's F1-only ablation)
    gt, pred = [[0, 0, 10, 10], [50, 50, 60, 60]], [[0, 0, 10, 10]]
    lit = DigReward(DigRewardConfig(lambda_f1=1.0, lambda_iou=0.0, min_match_iou=0.0))
    assert lit.score(pred + [[80, 80, 90, 90]], gt).reward > lit.score(pred, gt).reward
    f1_only = DigReward(DigRewardConfig(lambda_f1=1.0, lambda_iou=0.0))
    assert f1_only.score(pred + [[80, 80, 90, 90]], gt).reward < f1_only.score(pred, gt).reward


# -- properties -----------------------------------------------------------------------------------------
@st.composite
def _box_strategy(draw, lo=0, hi=W):
    x0 = draw(st.integers(lo, hi - 1))
    y0 = draw(st.integers(lo, hi - 1))
    return [x0, y0, draw(st.integers(x0 + 1, hi)), draw(st.integers(y0 + 1, hi))]


_box = _box_strategy()
_boxes = st.lists(_box, min_size=0, max_size=6)
_nonempty = st.lists(_box, min_size=1, max_size=6)
_gts = st.lists(_box, min_size=1, max_size=4)
_configs = st.builds(
    lambda l1, a, t: DigReward(DigRewardConfig(lambda_f1=l1, lambda_iou=1 - l1, alpha=a, min_match_iou=t)),
    st.floats(0, 1), st.floats(0, 1), st.sampled_from([0.0, 0.1, 0.5, 0.75, 1.0]),
)


@settings(max_examples=200, deadline=None)
@given(_configs, _boxes, _gts)
def test_reward_in_unit_interval(reward, pred, gt):
    r = reward.score(pred, gt)
    assert 0.0 <= r.reward <= 1.0
    assert 0.0 <= r.miou <= 1.0 and 0.0 <= r.f1 <= 1.0 and r.n_match <= min(r.n_pred, r.n_gt)


@settings(max_examples=100, deadline=None)
@given(_configs, _gts)
def test_ground_truth_scores_one(reward, gt):
    assert reward.score(gt, gt).reward == pytest.approx(1.0)
    # ... also as a completion the task parses
    assert reward.score(TASK.parse(TASK.format_boxes(gt, W, H), W, H), gt).reward == pytest.approx(1.0)


@settings(max_examples=150, deadline=None)
@given(_configs, _boxes, _gts, st.randoms(use_true_random=False))
def test_invariant_to_box_order(reward, pred, gt, rnd):
    a = reward.score(pred, gt)
    p2, g2 = pred[:], gt[:]
    rnd.shuffle(p2)
    rnd.shuffle(g2)
    b = reward.score(p2, g2)
    assert b.n_match == a.n_match and b.reward == pytest.approx(a.reward)


@settings(max_examples=150, deadline=None)
@given(_configs, _nonempty, _gts, st.data())
def test_adding_a_wrong_box_never_raises_reward(reward, pred, gt, data):
    """A wrong box overlaps no difference. Exceptions, both by the paper's equations: an empty
    answer plus a box earns the format reward alpha (eq. 1), and with min_match_iou = 0 the
    literal reading can reward padding (test_literal_reading_rewards_padding)."""
    assume(reward.config.min_match_iou > 0)
    wrong = data.draw(_box)
    assume(all(iou_matrix(np.array([wrong], float), np.array(gt, float))[0] == 0))
    pos = data.draw(st.integers(0, len(pred)))
    assert reward.score(pred[:pos] + [wrong] + pred[pos:], gt).reward <= reward.score(pred, gt).reward + 1e-12


@settings(max_examples=100, deadline=None)
@given(_configs, _gts, st.text(alphabet="abc [],.<>/{}:\"'0123456789", max_size=40))
def test_empty_or_garbage_scores_zero(reward, gt, junk):
    assume(not TASK.parse(junk, W, H))
    r = answer_score(TASK, reward, junk, gt, W, H)
    assert r.reward == 0.0 and r.format == 0.0 and r.n_pred == 0
    assert reward.score([], gt).reward == 0.0


@settings(max_examples=40, deadline=None)
@given(st.lists(_box_strategy(), min_size=1, max_size=12), st.lists(_box_strategy(), min_size=1, max_size=12))
def test_python_and_numpy_ious_agree(pred, gt):
    from dig_core.reward import _positive_ious

    iou = iou_matrix(np.array(pred, float), np.array(gt, float))
    expected = {(i, j): iou[i, j] for i, j in zip(*np.nonzero(iou > 0))}
    # small inputs take the Python path, large ones numpy: compare row by row and as a whole
    got = {(i, j): v for i in range(len(pred)) for (_, j), v in _positive_ious(pred[i:i + 1], gt).items()}
    assert got.keys() == expected.keys() and _positive_ious(pred, gt).keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v) and _positive_ious(pred, gt)[k] == pytest.approx(v)
