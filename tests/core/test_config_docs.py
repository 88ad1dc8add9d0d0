"""`dig config show` spells out every selected plugin's params; `--explain KEY` documents a key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

import pytest
import yaml
from dig_core import hookimpl
from dig_core.config import load_config, merge_config, to_plain
from dig_core.config.explain import explain, explain_text, field_docs, with_defaults
from dig_core.errors import ConfigError
from dig_core.plugins import get_plugin_manager
from dig_core.reward import DigRewardConfig
from dig_core.task import DigTaskConfig

from tests.helpers import dig

ROOT = Path(__file__).resolve().parents[2]
CORE = ("task", "reward", "curriculum.advance")


@dataclass
class BaseParams:
    #: how many widgets
    #: (two comment lines)
    widgets: int = 3
    name: str = "w"  # what the widget is called


@dataclass
class ChildParams(BaseParams):
    #: the child's own doc
    name: str = "child"
    limit: Optional[float] = None


class Widget:
    """A third-party reward plugin whose params are documented with ``#:`` comments."""

    PLUGIN_NAME: ClassVar[str] = "widget-test"
    Config: ClassVar[type] = ChildParams

    def __init__(self, config=None):
        self.config = config

    @classmethod
    def validate_config(cls, cfg):
        return [] if cfg.widgets >= 0 else [f"widgets must be >= 0, got {cfg.widgets}"]


class WidgetPlugin:
    @hookimpl
    def register_rewards(self):
        return [Widget]


@pytest.fixture
def widget():
    pm = get_plugin_manager()
    pm.register(WidgetPlugin(), "widget-test-plugin")
    yield pm
    pm.unregister("widget-test-plugin")


def test_field_docs_read_comment_lines_trailing_comments_and_base_classes():
    docs = field_docs(ChildParams)
    assert docs["widgets"] == "how many widgets (two comment lines)"
    assert docs["name"] == "the child's own doc"  # the subclass's comment wins
    assert "limit" not in docs
    assert field_docs(BaseParams)["name"] == "what the widget is called"


def test_show_fills_in_every_selected_plugins_params():
    pm = get_plugin_manager()
    cfg = load_config(None, ["reward.params.alpha=0.2"], sections=CORE)
    assert dict(cfg.task.params) == {} and dict(cfg.reward.params) == {"alpha": 0.2}
    full = to_plain(with_defaults(cfg, pm, CORE))
    assert full["task"]["params"]["coords"] == DigTaskConfig.coords
    assert full["task"]["params"]["max_boxes"] == DigTaskConfig.max_boxes
    assert full["reward"]["params"] == {"lambda_f1": DigRewardConfig.lambda_f1, "lambda_iou": DigRewardConfig.lambda_iou,
                                        "alpha": 0.2, "min_match_iou": DigRewardConfig.min_match_iou}
    assert full["curriculum"]["advance"]["params"]["epochs"] == 1.0
    assert full["trainer"]["params"] == {}  # no trainer selected: nothing to fill in


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_filled_config_loads_back_to_the_same_config(tmp_path, preset):
    pm = get_plugin_manager()
    cfg, errors = merge_config(ROOT / "configs" / preset)
    assert not errors
    full = with_defaults(cfg, pm, CORE)
    out = tmp_path / "full.yaml"
    out.write_text(yaml.safe_dump(to_plain(full)))
    again, errors = merge_config(out)
    assert not errors
    assert to_plain(with_defaults(again, pm, CORE)) == to_plain(full)


def test_explain_a_leaf_a_section_and_a_list_item():
    pm = get_plugin_manager()
    cfg = load_config(None, ["task.params.coords=rel1000"], sections=CORE)
    leaf = explain(cfg, "task.params.coords", pm)
    assert leaf.leaf and "dig_core.task.DigTaskConfig" in leaf.owner
    (d,) = leaf.fields
    assert (d.type, d.default, d.value) == ("str", "pixels", "rel1000")
    assert "rel1000" in d.doc and "Qwen3-VL" in d.doc
    text = explain_text(leaf)
    assert "default:     'pixels'" in text and "value here:  'rel1000'" in text

    stages = explain(cfg, "curriculum.stages", pm)  # a list of dataclasses: its element's keys
    keys = {f.key for f in stages.fields}
    assert {"k_min", "min_area", "max_occlusion", "location"} <= keys
    assert "visible area" in next(f.doc for f in stages.fields if f.key == "min_area")
    item = explain(cfg, "curriculum.stages[2].k_max", pm)
    assert item.key == "curriculum.stages[2].k_max" and item.fields[0].value == 4
    assert explain(cfg, "curriculum.stages.k_max", pm).fields[0].default == 1


def test_explain_follows_the_selected_third_party_plugin(widget):
    cfg = load_config(None, ["reward.name=widget-test", "reward.params.widgets=7"], sections=CORE)
    ex = explain(cfg, "reward.params", widget)
    assert "ChildParams" in ex.owner and "widget-test" in ex.owner
    by_key = {f.key: f for f in ex.fields}
    assert by_key["widgets"].value == 7 and by_key["widgets"].default == 3
    assert by_key["limit"].type == "Optional[float]"
    assert by_key["name"].doc == "the child's own doc"
    full = to_plain(with_defaults(cfg, widget, CORE))
    assert full["reward"]["params"] == {"widgets": 7, "name": "child", "limit": None}


@pytest.mark.parametrize(("key", "overrides", "expected"), [
    ("scene.nope", [], r"unknown key 'nope' in scene; allowed: \['width'"),
    ("curriculum.stages[7].k_min", [], r"has 3 entries, no \[7\]"),
    ("trainer.params.model", [], r"trainer.name is not set.*available trainer plugins"),
    ("scene.vocabulary.colors", [], r"free-form dict without documented sub-keys"),
    ("reward.params.alpha", ["reward.params.alpha=7"], r"alpha"),
    ("scene..x", [], r"not a dotted key"),
])
def test_explain_errors_name_the_key_and_what_is_allowed(key, overrides, expected):
    cfg, _ = merge_config(None, overrides)
    with pytest.raises(ConfigError, match=expected):
        explain(cfg, key, get_plugin_manager())


def test_cli_show_and_explain():
    r = dig("config", "show", "--config", str(ROOT / "configs" / "demo.yaml"))
    assert r.returncode == 0, r.stderr
    shown = yaml.safe_load(r.stdout)
    assert shown["task"]["params"]["coords"] == "pixels" and "min_match_iou" in shown["reward"]["params"]
    bare = yaml.safe_load(dig("config", "show", "--no-defaults").stdout)
    assert bare["task"]["params"] == {}

    r = dig("config", "show", "curriculum.stages[0].min_area=0.01", "--explain", "curriculum.stages[0].min_area")
    assert r.returncode == 0, r.stderr
    assert "type:        float" in r.stdout and "value here:  0.01" in r.stdout and "visible area" in r.stdout

    r = dig("config", "show", "--explain", "scene.nope")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "allowed" in r.stderr
    assert "--explain KEY" in dig("config", "show", "--help").stdout
