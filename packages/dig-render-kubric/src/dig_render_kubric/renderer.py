"""The ``kubric`` renderer: DiG scene specs through Kubric's scene model, its Blender renderer
(:class:`~dig_render_kubric.blender_view.ModernBlender`, adapted to bpy 4.5 / 5.0) and, with
``physics: true``, its PyBullet simulator (:mod:`dig_render_kubric.physics`).

One :class:`KubricRenderer` owns its process's Blender session (Kubric starts from
``read_factory_settings``), so use it in its own worker process, as ``dig generate`` does. Several in
one process work but take turns: one that finds another has reset Blender since rebuilds its scene
(and a ``blender`` renderer alive in the same process is invalidated). The
instance map is Kubric's segmentation: the Cryptomatte object pass of Kubric's 1-sample aux view
layer, rank 0 (the object the pixel's camera ray hits), hashes mapped back to object ids; every hash
must belong to a known object (else the render fails rather than mislabel pixels).
"""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from dig_core.render import Renderer, RenderResult, SceneRejected
from dig_core.spec import SceneSpec, Vocabulary
from dig_render_blender.cycles import CyclesConfig, cycles_config_errors, each_alone, one_sample, private_temp_dir

from dig_render_kubric import KUBRIC_VERSION, __version__
from dig_render_kubric.loader import load_kubric

MAX_OBJECT_ID = 2**31 - 2
#: the renderer whose scene the process's Blender session holds (Kubric resets the session per scene)
_SESSION: list[Any] = [None]


@dataclass
class KubricConfig(CyclesConfig):
    """``renderer.params`` of the ``kubric`` renderer: the blender renderer's Cycles settings and
    look (:class:`~dig_render_blender.renderer.CyclesConfig`, same defaults) plus physics."""

    physics: bool = False  # drop every scene A with PyBullet and render the settled poses
    drop_height: float = 0.05  # start this far above the resting pose
    settle_seconds: float = 1.0  # simulated time
    min_gap: float = 0.02  # settled footprints closer than this count as touching (rejected, resampled)


class KubricRenderer(Renderer):
    """Renderer plugin ``kubric``: same contract and look as ``blender``, through Kubric."""

    PLUGIN_NAME = "kubric"
    Config = KubricConfig
    PINHOLE = True

    def __init__(self, config: KubricConfig | None = None):
        super().__init__(config)
        self.vocab: Vocabulary | None = None
        self.threads = 0
        self._k: dict[str, Any] = {}
        self._view: Any = None
        self._scene: Any = None  # KubricScene of the renderer
        self._tmp: str | None = None
        self._remove_tmp: weakref.finalize | None = None
        self._cylinder: tuple[str, str] | None = None
        self.last_timings: dict[str, float] = {}

    @classmethod
    def validate_config(cls, cfg: Any) -> list[str]:
        errors = cycles_config_errors(cfg)
        if not 0 <= cfg.drop_height <= 1:
            errors.append(f"drop_height must be in [0, 1] (world units above the resting pose), got {cfg.drop_height}")
        if not 0.05 <= cfg.settle_seconds <= 30:
            errors.append(f"settle_seconds must be in [0.05, 30], got {cfg.settle_seconds}")
        if cfg.min_gap < 0:
            errors.append(f"min_gap must be >= 0, got {cfg.min_gap}")
        return errors

    # -- lifetime ------------------------------------------------------------------------------------
    def setup(self, vocab: Vocabulary, threads: int) -> None:
        self.vocab = vocab
        self.threads = int(threads)
        if self._view is not None and _SESSION[0] is self:
            self._apply_threads()

    def _files(self) -> None:
        if self._tmp is None:
            from dig_render_kubric.meshes import write_cylinder

            self._tmp, self._remove_tmp = private_temp_dir(self.config, "dig-kubric-", self)
            self._cylinder = write_cylinder(self._tmp, self.config.mesh_detail)
        if self.vocab is None:
            self.vocab = Vocabulary.default()

    def _look(self) -> Any:
        from dig_render_kubric.scene_map import Look

        c = self.config
        return Look(ground_color=c.ground_color, ground_roughness=c.ground_roughness, world_strength=c.world_strength)

    def _ensure(self) -> None:
        if self._view is not None and _SESSION[0] is self:
            return
        # first use, or another KubricRenderer in this process has reset Blender since: (re)build
        self._view = self._scene = None
        self._k = load_kubric()  # raises KubricUnavailable naming what is missing
        self._files()
        from dig_render_kubric.blender_view import ModernBlender
        from dig_render_kubric.scene_map import KubricScene

        cfg = self.config
        ks = KubricScene(self._k["kb"], self.vocab, self._cylinder, self._look(), frame_start=1, frame_end=1)
        self._view = ModernBlender(ks.scene, self._tmp, samples=cfg.samples, use_denoising=cfg.denoise,
                                   quiet=cfg.quiet)
        self._scene = ks
        _SESSION[0] = self
        ks.add_stage(with_camera=True)
        self._cycles_settings()

    def _cycles_settings(self) -> None:
        """The Blender renderer's Cycles settings, so the two renderers differ only in their pipeline."""
        cfg = self.config
        sc = self._view.blender_scene
        r, c = sc.render, sc.cycles
        r.resolution_percentage = 100
        r.use_persistent_data = True
        r.use_compositing = False
        r.use_sequencer = False
        r.dither_intensity = 0.0
        if cfg.denoise:
            c.denoiser = "OPENIMAGEDENOISE"
            c.denoising_input_passes = "RGB_ALBEDO_NORMAL"
            c.denoising_prefilter = "FAST"
            if hasattr(c, "denoising_quality"):
                c.denoising_quality = "HIGH"
        c.max_bounces = cfg.max_bounces
        c.diffuse_bounces = cfg.diffuse_bounces
        c.glossy_bounces = cfg.glossy_bounces
        c.transmission_bounces = c.volume_bounces = c.transparent_max_bounces = 0
        c.caustics_reflective = c.caustics_refractive = False
        c.filter_width = cfg.filter_width
        c.use_animated_seed = False
        c.seed = cfg.seed
        self._apply_threads()

    def _apply_threads(self) -> None:
        n = self.config.threads or self.threads or (os.cpu_count() or 1)
        r = self._view.blender_scene.render
        r.threads_mode = "FIXED"
        r.threads = max(1, min(int(n), 1024))

    def close(self) -> None:
        if self._view is not None and _SESSION[0] is self:
            self._k["blender"].Blender.clear_and_reset_blender_scene(False)
            _SESSION[0] = None
        self._view = self._scene = None
        if self._remove_tmp is not None:
            self._remove_tmp()
            self._tmp = self._remove_tmp = None

    # -- physics ---------------------------------------------------------------------------------------
    def rejection_reasons(self) -> tuple[str, ...]:
        from dig_render_kubric.physics import REASONS

        return REASONS if self.config.physics else ()

    def prepare_scene(self, scene: SceneSpec) -> SceneSpec:
        """With ``physics: true``: the scene with every object dropped and settled by PyBullet
        (raises :class:`~dig_core.render.SceneRejected` off the table / not upright / touching)."""
        if not self.config.physics:
            return scene
        return self.settle(scene).scene

    def settle(self, scene: SceneSpec) -> Any:
        """:func:`dig_render_kubric.physics.settle` with this renderer's settings."""
        from dig_render_kubric.physics import settle

        self._k = load_kubric()
        self._files()
        cfg = self.config
        return settle(self._k["kb"], self._k["pybullet"], scene, self.vocab, self._cylinder, self._look(),
                      drop_height=cfg.drop_height, seconds=cfg.settle_seconds, min_gap=cfg.min_gap)

    # -- rendering -------------------------------------------------------------------------------------
    def _sync(self, spec: SceneSpec) -> None:
        for o in spec.objects:
            if not 0 <= o.id <= MAX_OBJECT_ID:
                raise ValueError(f"object id {o.id} out of range [0, {MAX_OBJECT_ID}]")
        self._scene.sync(spec)
        sc = self._view.blender_scene
        seed = (spec.seed % 2**31) if self.config.seed_from_scene else self.config.seed
        if sc.cycles.seed != seed:
            sc.cycles.seed = seed
            sc.update_tag()  # persistent data keeps the old seed unless the scene is tagged

    def render(self, scene: SceneSpec) -> RenderResult:
        self._ensure()
        t0 = time.perf_counter()
        self._sync(scene)
        t1 = time.perf_counter()
        layers = self._view.render(return_layers=("rgba", "segmentation"))
        t2 = time.perf_counter()
        result = self._result(layers, scene)
        self.last_timings = {"sync": t1 - t0, "render": t2 - t1, "readback": time.perf_counter() - t2}
        return result

    def _result(self, layers: dict[str, np.ndarray], spec: SceneSpec) -> RenderResult:
        rgb = layers["rgba"][0][..., :3]
        if rgb.shape[:2] != (spec.height, spec.width):
            raise RuntimeError(f"Kubric rendered {rgb.shape[1]}x{rgb.shape[0]}, expected {spec.width}x{spec.height}")
        return RenderResult(image=np.ascontiguousarray(rgb), instances=self._instances(layers["segmentation"][0][..., 0]))

    def _instances(self, asset_index: np.ndarray) -> np.ndarray:
        """Kubric's segmentation (asset index + 1 over ``scene.assets``, 0 = no known asset) ->
        object id + 1 (floor and background 0). Any pixel whose Cryptomatte hash matched no asset
        fails the render."""
        view = self._view
        raw = view.last_hashes
        assets = list(self._scene.scene.assets)
        by_uid = self._scene.ids_by_uid()
        lut = np.zeros(len(assets) + 1, np.int32)
        for i, asset in enumerate(assets, start=1):
            if asset.uid in by_uid:
                lut[i] = by_uid[asset.uid] + 1
        unknown = (asset_index == 0) & (raw != 0)
        if unknown.any():
            raise RuntimeError(f"{int(unknown.sum())} pixels carry Cryptomatte hashes of no Kubric asset "
                               f"({sorted(set(raw[unknown].tolist()))[:5]}): the instance map would be inexact")
        return lut[asset_index.astype(np.int64)]

    def render_pair(self, scene_a: SceneSpec, scene_b: SceneSpec) -> tuple[RenderResult, RenderResult]:
        """Render A, then B by changing only the Kubric assets that differ."""
        return self.render(scene_a), self.render(scene_b)

    def render_preview(self, scene: SceneSpec) -> RenderResult:
        """``scene``'s instance map as :meth:`render` gives it (the segmentation comes from the aux
        view layer, 1 sample whatever the scene's setting) and a noisy image: the main layer at 1
        sample, no denoising (the settings are restored afterwards)."""
        self._ensure()
        self._sync(scene)
        with one_sample(self._view.blender_scene):
            layers = self._view.render(return_layers=("rgba", "segmentation"))
        return self._result(layers, scene)

    def render_alone(self, scene: SceneSpec, object_ids: list[int]) -> dict[int, np.ndarray]:
        """Per object id, its mask with every other object hidden (``hide_render``), at 1 sample,
        no denoising, no bounces, without persistent data; the settings are restored afterwards."""
        self._ensure()
        self._sync(scene)
        objs = {oid: obj.linked_objects[self._view] for oid, (obj, _, _) in self._scene.objects.items()}
        out: dict[int, np.ndarray] = {}
        # hide_render toggles under persistent data crash Blender 5.0 (heap corruption) once an
        # object was swapped earlier: one_sample renders without it, rebuilding Cycles' scene
        with one_sample(self._view.blender_scene, bounces=False), each_alone(objs, object_ids) as alone:
            for oid in alone:
                layers = self._view.render(return_layers=("rgba", "segmentation"))
                out[oid] = self._result(layers, scene).instances == oid + 1
        return out

    def render_bare(self, scene: SceneSpec) -> float:
        """Benchmark helper: sync ``scene`` and run Cycles with no readback; seconds of the render."""
        self._ensure()
        self._sync(scene)
        t = time.perf_counter()
        self._view.render_only()
        return time.perf_counter() - t

    def info(self) -> dict[str, Any]:
        from dig_render_blender.cycles import import_bpy

        return {
            "name": self.PLUGIN_NAME,
            "plugin_version": __version__,
            "kubric": _dist_version("kubric-nightly"),
            "kubric_tested": KUBRIC_VERSION,
            "blender": import_bpy().app.version_string,
            "pybullet": _dist_version("pybullet"),
            "engine": "CYCLES",
            "device": "CPU",
            "settings": asdict(self.config),
            "threads": self.config.threads or self.threads or (os.cpu_count() or 1),
            "instance_map": "kubric cryptomatte object pass, 1-sample aux view layer, rank 0",
            "physics": "kubric pybullet simulator, settled poses written to scene_a" if self.config.physics else None,
        }


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


__all__ = ["KubricConfig", "KubricRenderer", "SceneRejected"]
