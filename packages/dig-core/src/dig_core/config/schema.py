"""The config's schema: the structured dataclasses of every core section (their ``#:`` comments are
what ``dig config show --explain KEY`` prints), the plugin sections and the bounds a config must stay
within."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from dig_core.spec import Vocabulary


def _default_vocabulary() -> dict[str, Any]:
    return Vocabulary.default().to_dict()


@dataclass
class SceneConfig:
    width: int = 480
    height: int = 320
    min_objects: int = 3
    max_objects: int = 10
    bounds: float = 3.0  # objects lie in [-bounds, bounds]^2
    min_dist: float = 0.25  # minimum gap between footprints
    margin: float = 0.4  # minimum separation along the camera's left/right and front/back axes
    camera_jitter: float = 0.5
    light_jitter: float = 1.0
    max_attempts: int = 50  # placement tries per object before restarting the scene
    max_restarts: int = 200  # whole-scene restarts before giving up (a restart costs milliseconds)
    vocabulary: dict[str, Any] = field(default_factory=_default_vocabulary)


#: ``perturbations.balance`` values
BALANCE_MODES = ("quota", "feasible")


@dataclass
class PerturbationsConfig:
    #: relative weights of edit types (0 = off); names are perturbation PLUGIN_NAMEs
    weights: dict[str, float] = field(
        default_factory=lambda: {"shape": 1.0, "color": 1.0, "size": 1.0, "material": 1.0,
                                 "add": 1.0, "remove": 1.0, "move": 0.0}
    )
    #: per-perturbation parameters, validated by each plugin's Config
    params: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 100  # edit draws per pair before the pair's scene is resampled
    #: how edit types are chosen: "quota" = every stage's edit types follow the weights (planned per
    #: stage, realised by resampling scenes); "feasible" = per edit among the types that fit (older
    #: datasets; frequencies then follow feasibility, not the weights)
    balance: str = "quota"


@dataclass
class PluginRef:
    name: Optional[str] = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageConfig:
    name: str = "dig-1"
    k_min: int = 1
    k_max: int = 1
    count_in_prompt: bool = True
    pairs: int = 2
    # difficulty knobs (docs/difficulty.md); the defaults filter nothing
    #: every difference's visible area, as a share of the image, must lie in [min_area, max_area]
    min_area: float = 0.0
    max_area: float = 1.0
    #: every difference's contrast (mean CIE ΔE between I_a and I_b in its mask) in [min, max]
    min_contrast: float = 0.0
    max_contrast: Optional[float] = None
    #: a color edit picks a new color at this CIE ΔE from the old one (identical colors never)
    min_color_distance: float = 0.0
    max_color_distance: Optional[float] = None
    #: where differences may be: any | center | border
    location: str = "any"
    #: every difference's occlusion (share of the edited object hidden by others) in [min, max];
    #: setting either makes `dig generate` measure occlusion for every pair (one extra cheap render
    #: per edited object)
    min_occlusion: float = 0.0
    max_occlusion: Optional[float] = None


def _demo_stages() -> list[StageConfig]:
    return [
        StageConfig("dig-1", 1, 1, True, 2),
        StageConfig("dig-2", 2, 2, True, 2),
        StageConfig("dig-mix", 1, 4, False, 2),
    ]


@dataclass
class CurriculumConfig:
    stages: list[StageConfig] = field(default_factory=_demo_stages)
    advance: PluginRef = field(default_factory=lambda: PluginRef("fixed"))


@dataclass
class ValidityConfig:
    min_visible_pixels: int = 100
    min_box_change: float = 8.0
    max_resamples: int = 20  # rejected renders per pair before giving up with an error


@dataclass
class GenerateConfig:
    workers: int = 0  # 0 = choose from the CPU count
    threads: int = 0  # renderer threads per worker; 0 = CPU count / workers
    executor: str = "local"
    ray_address: Optional[str] = None  # None = start a local Ray instance
    image_format: str = "png"
    progress: bool = True
    #: render each candidate's instance maps first (1 sample, no image) and reject on them before the
    #: full render (visibility, area, location, occlusion); the same pairs either way, only faster
    screen: bool = True
    #: on a stage with area / location / occlusion knobs, redraw a scene's edits (up to 30 times)
    #: until a geometric sketch of A and B meets them (dig_core/sketch.py), before any render; off =
    #: draw once and let the renders decide (the datasets of earlier versions)
    steer: bool = True


@dataclass
class DigConfig:
    seed: int = 0
    #: a name mixed into every pair's seed when not empty, so a held-out set (configs/dig-bench.yaml)
    #: never shares a scene with data made from the same seed and stage names; "" keeps the plain seeds
    seed_namespace: str = ""
    scene: SceneConfig = field(default_factory=SceneConfig)
    perturbations: PerturbationsConfig = field(default_factory=PerturbationsConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    renderer: PluginRef = field(default_factory=lambda: PluginRef("blender"))
    validity: ValidityConfig = field(default_factory=ValidityConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    task: PluginRef = field(default_factory=lambda: PluginRef("dig"))
    reward: PluginRef = field(default_factory=lambda: PluginRef("dig"))
    trainer: PluginRef = field(default_factory=PluginRef)
    evaluator: PluginRef = field(default_factory=PluginRef)
    #: further evaluators ``dig eval`` runs after ``evaluator`` (e.g. the paper's benchmark list)
    evaluators: list[PluginRef] = field(default_factory=list)
    #: the model adapter that answers prompts (``dig eval``): hf, vllm, predictions, ...
    model: PluginRef = field(default_factory=PluginRef)


#: config sections that name one plugin: section -> plugin kind
PLUGIN_SECTIONS = {
    "renderer": "renderer",
    "task": "task",
    "reward": "reward",
    "curriculum.advance": "advance_rule",
    "trainer": "trainer",
    "evaluator": "evaluator",
    "model": "model_adapter",
}
#: every plugin section (``evaluators`` is a list of evaluator sections)
ALL_SECTIONS = (*PLUGIN_SECTIONS, "evaluators")


#: upper bounds (docs/config.md): a config beyond them is refused before anything is planned or
#: written, instead of hanging in planning or rendering
MAX_IMAGE_SIDE = 8192  # scene.width, scene.height
MAX_IMAGE_PIXELS = 4096 * 4096  # scene.width * scene.height
#: each pair is planned when it is taken for rendering (generate.Plan), at ~30 µs a pair; these
#: keep a run, and the K and edit types a quota stage deals as it is read, within bounds
MAX_STAGE_PAIRS = 100_000  # curriculum.stages[i].pairs
MAX_PAIRS = 1_000_000  # all stages together
MAX_OBJECTS = 100  # scene.max_objects, and K (k_max)
