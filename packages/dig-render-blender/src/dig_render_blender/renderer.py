"""The ``blender`` renderer: CLEVR-like scenes in headless Blender (bpy), Cycles on the CPU or a GPU.

One :class:`BlenderRenderer` owns one Blender scene (``dig_<n>``) for its whole life. Objects are
kept by spec id and only what changed between two renders is touched (shape = swap the shared
mesh, size = scale, color = the object's color, material = the object's material slot, add /
remove = create / delete one object), so Cycles' persistent data (``render.use_persistent_data``)
is reused across renders.

Pixels come back through a multilayer EXR that Blender writes with ``Image.save_render`` to a
private temp folder (no compositor): ``Combined`` becomes the RGB image (linear Rec.709 ->
sRGB, i.e. Blender's "Standard" view transform, no dither) and Cycles' ``Object Index`` pass
(``obj.pass_index = object_id + 1``) becomes the instance map.
"""

from __future__ import annotations

import itertools
import math
import os
import time
import warnings
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from dig_core.render import Renderer, RenderResult
from dig_core.spec import Light, ObjectSpec, SceneSpec, Vocabulary

from dig_render_blender import __version__
from dig_render_blender.cycles import (
    CyclesConfig,
    cycles_config_errors,
    each_alone,
    import_bpy,
    linear_to_srgb8,
    one_sample,
    private_temp_dir,
    quiet_stdout,
    srgb_to_linear,
)
from dig_render_blender.devices import (
    REQUESTS,
    DeviceChoice,
    GpuDevice,
    apply_device,
    choose_device,
    claim_gpu,
    query_devices,
    release,
    worker_hint,
)
from dig_render_blender.exr import read_exr
from dig_render_blender.region import Rect, crops, grow

MAX_OBJECT_ID = 32766  # Object.pass_index is a short: object_id + 1 must fit
_COUNTER = itertools.count()


@dataclass
class BlenderConfig(CyclesConfig):
    """``renderer.params`` of the ``blender`` renderer: :class:`CyclesConfig` plus these."""

    denoise_prefilter: str = "FAST"  # FAST: guides used as is; ACCURATE: denoise them too (+~55% time)
    device: str = "auto"  # auto (OptiX, CUDA, HIP, oneAPI, Metal, else CPU) | cpu | gpu | optix | cuda | hip | ...
    gpus_per_worker: int = 1  # 1: each worker renders on its own GPU (one worker per GPU); 0: every GPU
    rerender: str = "region"  # I_b: full = render it all; region = only where it can differ from I_a
    region_margin: int = 4  # pixels around each changed object's projected footprint + shadow hull
    region_bleed: float = 1.0  # ground margin (object radii) around a changed object, for bounced light
    region_pad: int = 16  # extra pixels rendered around each crop and thrown away (denoising at crop edges)
    region_max_crops: int = 4  # at most this many horizontal bands of crops per pair
    region_max_share: float = 0.6  # render B in full when the crops would cover more of the frame


def _look_at_quat(location: Any, target: Any):
    from mathutils import Vector

    direction = Vector(target) - Vector(location)
    return direction.to_track_quat("-Z", "Y")


def _set_input(node: Any, names: tuple[str, ...], value: Any) -> None:
    """Set the first existing input of ``names`` (Principled BSDF input names differ by version)."""
    for name in names:
        sock = node.inputs.get(name)
        if sock is not None:
            sock.default_value = value
            return


def _node_tree(idblock: Any) -> Any:
    """The node tree of a material/world, creating it on versions that still need ``use_nodes``."""
    if idblock.node_tree is None or not idblock.node_tree.nodes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # use_nodes is deprecated in 5.0
            idblock.use_nodes = True
    return idblock.node_tree


class BlenderRenderer(Renderer):
    """Cycles (CPU or GPU) renderer of CLEVR-like :class:`SceneSpec` scenes with exact instance maps.

    Use: ``r = BlenderRenderer(BlenderConfig(...)); r.setup(vocab, threads)``, then
    ``r.render(scene)`` / ``r.render_pair(a, b)`` many times, then ``r.close()``.
    """

    PLUGIN_NAME = "blender"
    Config = BlenderConfig
    PINHOLE = True

    def __init__(self, config: BlenderConfig | None = None):
        super().__init__(config)
        self.vocab: Vocabulary | None = None
        self.threads = 0
        self._bpy: Any = None
        self._scene: Any = None
        self._prefix = f"dig{next(_COUNTER)}_{os.getpid()}"
        self._tmp: str | None = None
        self._remove_tmp: weakref.finalize | None = None
        self._objects: dict[int, tuple[Any, ObjectSpec]] = {}
        self._lights: dict[str, tuple[Any, Light]] = {}
        self._meshes: dict[str, Any] = {}
        self._materials: dict[str, Any] = {}
        self._camera_state: tuple | None = None
        self._ids: list[tuple[Any, Any]] = []  # every datablock this renderer created, removed in close()
        self.last_timings: dict[str, float] = {}
        self._choice: DeviceChoice | None = None
        self._gpus: tuple[GpuDevice, ...] = ()  # the GPUs this renderer renders on
        self._gpu_lock: Any = None
        #: crops of the last render_pair's B (None: rendered in full)
        self.last_crops: list[Rect] | None = None

    # -- config -----------------------------------------------------------------------------------
    @classmethod
    def validate_config(cls, cfg: Any) -> list[str]:
        errors = cycles_config_errors(cfg)
        if cfg.denoise_prefilter not in ("NONE", "FAST", "ACCURATE"):
            errors.append(f"denoise_prefilter must be one of NONE, FAST, ACCURATE, got {cfg.denoise_prefilter!r}")
        if str(cfg.device).lower() not in REQUESTS:
            errors.append(f"device must be one of {', '.join(REQUESTS)}, got {cfg.device!r}")
        if cfg.gpus_per_worker not in (0, 1):
            errors.append(f"gpus_per_worker must be 1 (one GPU per worker) or 0 (all GPUs), got {cfg.gpus_per_worker}")
        if cfg.rerender not in ("full", "region"):
            errors.append(f"rerender must be full or region, got {cfg.rerender!r}")
        for key in ("region_margin", "region_pad"):
            if getattr(cfg, key) < 0:
                errors.append(f"{key} must be >= 0 pixels, got {getattr(cfg, key)}")
        if cfg.region_bleed < 0:
            errors.append(f"region_bleed must be >= 0 object radii, got {cfg.region_bleed}")
        if cfg.region_max_crops < 1:
            errors.append(f"region_max_crops must be >= 1, got {cfg.region_max_crops}")
        if not 0 < cfg.region_max_share <= 1:
            errors.append(f"region_max_share must be in (0, 1], got {cfg.region_max_share}")
        return errors

    # -- lifetime ---------------------------------------------------------------------------------
    def setup(self, vocab: Vocabulary, threads: int) -> None:
        self.vocab = vocab
        self.threads = int(threads)
        if self._scene is not None:
            self._apply_threads()

    def _ensure(self) -> None:
        if self._scene is not None:
            return
        if self.vocab is None:
            self.vocab = Vocabulary.default()
        self._bpy = import_bpy()
        choice = self.device_choice()  # an absent GPU raises here, before anything is built
        self._tmp, self._remove_tmp = private_temp_dir(self.config, "dig-blender-", self)
        self._build_scene()
        if choice.is_gpu:
            if self.config.gpus_per_worker == 1 and len(choice.devices) > 1:
                gpu, self._gpu_lock = claim_gpu(choice.devices)
                self._gpus = (gpu,)
            else:
                self._gpus = choice.devices
        apply_device(self._bpy, self._scene, choice, self._gpus)

    def device_choice(self) -> DeviceChoice:
        """The Cycles device for ``device`` (asks bpy once; ``cpu`` asks nothing)."""
        if self._choice is None:
            if str(self.config.device).lower() == "cpu":
                self._choice = DeviceChoice("CPU")
            else:
                self._choice = choose_device(self.config.device, query_devices(import_bpy()))
        return self._choice

    def worker_plan(self) -> tuple[int, str]:
        choice = self.device_choice()
        return worker_hint(choice, self.config.gpus_per_worker), choice.label()

    def close(self) -> None:
        bpy = self._bpy
        if bpy is not None and self._scene is not None:
            for obj, _ in self._objects.values():
                bpy.data.objects.remove(obj)
            for obj, _ in self._lights.values():
                data = obj.data
                bpy.data.objects.remove(obj)
                bpy.data.lights.remove(data)
            self._objects.clear()
            self._lights.clear()
            for collection, idb in reversed(self._ids):
                try:
                    collection.remove(idb)
                except ReferenceError:
                    pass  # already removed
            self._ids.clear()
            self._meshes.clear()
            self._materials.clear()
            self._scene = None
        if self._remove_tmp is not None:
            self._remove_tmp()
            self._tmp = self._remove_tmp = None
        release(self._gpu_lock)
        self._gpu_lock = None

    # -- building ---------------------------------------------------------------------------------
    def _new(self, collection: Any, name: str, *args: Any) -> Any:
        idb = collection.new(f"{self._prefix}_{name}", *args)
        self._ids.append((collection, idb))
        return idb

    def _build_scene(self) -> None:
        bpy = self._bpy
        cfg = self.config
        sc = self._new(bpy.data.scenes, "scene")
        self._scene = sc
        r = sc.render
        r.engine = "CYCLES"
        r.resolution_percentage = 100
        r.use_persistent_data = True
        r.use_compositing = False
        r.use_sequencer = False
        r.film_transparent = False
        r.dither_intensity = 0.0
        r.use_motion_blur = False
        c = sc.cycles
        c.samples = cfg.samples
        c.use_adaptive_sampling = False
        c.use_denoising = cfg.denoise
        if cfg.denoise:
            c.denoiser = "OPENIMAGEDENOISE"
            c.denoising_input_passes = "RGB_ALBEDO_NORMAL"
            c.denoising_prefilter = cfg.denoise_prefilter
            if hasattr(c, "denoising_quality"):
                c.denoising_quality = "HIGH"
        c.max_bounces = cfg.max_bounces
        c.diffuse_bounces = cfg.diffuse_bounces
        c.glossy_bounces = cfg.glossy_bounces
        c.transmission_bounces = 0
        c.volume_bounces = 0
        c.transparent_max_bounces = 0
        c.caustics_reflective = False
        c.caustics_refractive = False
        c.filter_width = cfg.filter_width
        c.use_animated_seed = False
        c.seed = cfg.seed
        vs = sc.view_settings
        sc.display_settings.display_device = "sRGB"
        vs.view_transform = "Standard"
        vs.look = "None"
        vs.exposure = 0.0
        vs.gamma = 1.0
        vs.use_curve_mapping = False
        vl = sc.view_layers[0]
        vl.use_pass_combined = True
        vl.use_pass_z = False
        vl.use_pass_object_index = True
        im = r.image_settings
        if hasattr(im, "media_type"):  # Blender 5.0: multilayer EXR is a media type
            im.media_type = "MULTI_LAYER_IMAGE"
        im.file_format = "OPEN_EXR_MULTILAYER"
        im.color_depth = "32"  # float: the index pass must survive exactly
        im.exr_codec = "NONE"  # fastest to write, and what exr.read_exr reads
        self._apply_threads()

        world = self._new(bpy.data.worlds, "world")
        sc.world = world
        bg = _node_tree(world).nodes.get("Background")
        g = cfg.ground_color
        bg.inputs["Color"].default_value = (g, g, g, 1.0)
        bg.inputs["Strength"].default_value = cfg.world_strength

        cam_data = self._new(bpy.data.cameras, "camera")
        cam_data.sensor_fit = "HORIZONTAL"
        cam_data.clip_start = 0.1
        cam_data.clip_end = 1000.0
        cam = self._new(bpy.data.objects, "camera", cam_data)
        sc.collection.objects.link(cam)
        sc.camera = cam
        self._camera = cam

        ground_mat = self._material("ground", base=(g, g, g), metallic=0.0, roughness=cfg.ground_roughness,
                                    specular=0.5, object_color=False)
        plane = self._mesh_plane("ground", 100.0)
        plane.materials.append(ground_mat)
        ground = self._new(bpy.data.objects, "ground", plane)
        ground.pass_index = 0
        sc.collection.objects.link(ground)

        # shared unit meshes (half-extent 1): objects scale them by vocab.rest_height(shape, size)
        n = cfg.mesh_detail
        self._meshes = {"cube": self._mesh_cube(), "sphere": self._mesh_sphere(n), "cylinder": self._mesh_cylinder(n)}
        # CLEVR's two materials; the color is the object's own color (Object Info), so a color
        # edit changes one object property and recompiles no shader
        self._materials = {
            "rubber": self._material("rubber", metallic=0.0, roughness=0.75, specular=0.35),
            "metal": self._material("metal", metallic=1.0, roughness=0.25, specular=0.5),
        }
        for mesh in self._meshes.values():
            mesh.materials.append(self._materials["rubber"])  # one slot; objects link their own

    def _apply_threads(self) -> None:
        n = self.config.threads or self.threads or (os.cpu_count() or 1)
        self._scene.render.threads_mode = "FIXED"
        self._scene.render.threads = max(1, min(int(n), 1024))

    def _material(self, name: str, metallic: float, roughness: float, specular: float,
                  base: tuple[float, float, float] = (0.8, 0.8, 0.8), object_color: bool = True) -> Any:
        mat = self._new(self._bpy.data.materials, name)
        tree = _node_tree(mat)
        bsdf = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
        bsdf.inputs["Base Color"].default_value = (*base, 1.0)
        bsdf.inputs["Metallic"].default_value = metallic
        bsdf.inputs["Roughness"].default_value = roughness
        _set_input(bsdf, ("Specular IOR Level", "Specular"), specular)
        if object_color:
            info = tree.nodes.new("ShaderNodeObjectInfo")
            tree.links.new(info.outputs["Color"], bsdf.inputs["Base Color"])
        return mat

    def _mesh_from(self, name: str, verts: list, faces: list, smooth: list[bool]) -> Any:
        mesh = self._new(self._bpy.data.meshes, name)
        mesh.from_pydata(verts, [], faces)
        mesh.polygons.foreach_set("use_smooth", smooth)
        mesh.update()
        return mesh

    def _mesh_plane(self, name: str, half: float) -> Any:
        v = [(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0), (-half, half, 0.0)]
        return self._mesh_from(name, v, [(0, 1, 2, 3)], [False])

    def _mesh_cube(self) -> Any:
        v = [(x, y, z) for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)]
        f = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
        return self._mesh_from("cube", v, f, [False] * 6)

    def _mesh_sphere(self, n: int) -> Any:
        rings = max(4, n // 2)
        v = [(0.0, 0.0, 1.0)]
        for i in range(1, rings):
            th = math.pi * i / rings
            v += [(math.sin(th) * math.cos(2 * math.pi * j / n), math.sin(th) * math.sin(2 * math.pi * j / n),
                   math.cos(th)) for j in range(n)]
        v.append((0.0, 0.0, -1.0))
        bottom = len(v) - 1
        f = [(0, 1 + j, 1 + (j + 1) % n) for j in range(n)]
        for i in range(rings - 2):
            a, b = 1 + i * n, 1 + (i + 1) * n
            f += [(a + j, b + j, b + (j + 1) % n, a + (j + 1) % n) for j in range(n)]
        last = 1 + (rings - 2) * n
        f += [(last + j, bottom, last + (j + 1) % n) for j in range(n)]
        if _inward(v, f[0]):  # make every normal point outwards
            f = [tuple(reversed(face)) for face in f]
        return self._mesh_from("sphere", v, f, [True] * len(f))

    def _mesh_cylinder(self, n: int) -> Any:
        ring = [(math.cos(2 * math.pi * j / n), math.sin(2 * math.pi * j / n)) for j in range(n)]
        side = [(x, y, -1.0) for x, y in ring] + [(x, y, 1.0) for x, y in ring]
        # caps use their own vertices so the smooth side's normals are not bent by the flat caps
        bottom = [(x, y, -1.0) for x, y in ring]
        top = [(x, y, 1.0) for x, y in ring]
        v = side + bottom + top
        f = [(j, (j + 1) % n, n + (j + 1) % n, n + j) for j in range(n)]
        f.append(tuple(2 * n + j for j in reversed(range(n))))
        f.append(tuple(3 * n + j for j in range(n)))
        return self._mesh_from("cylinder", v, f, [True] * n + [False, False])

    # -- syncing a spec into the Blender scene --------------------------------------------------
    def _sync(self, spec: SceneSpec) -> None:
        sc = self._scene
        cfg = self.config
        if (sc.render.resolution_x, sc.render.resolution_y) != (spec.width, spec.height):
            sc.render.resolution_x = spec.width
            sc.render.resolution_y = spec.height
        seed = (spec.seed % 2**31) if cfg.seed_from_scene else cfg.seed
        if sc.cycles.seed != seed:
            sc.cycles.seed = seed
            # with persistent data Cycles does not see a changed seed unless the scene is tagged
            # (checked on 4.5 and 5.0: without this, every later render keeps the first seed)
            sc.update_tag()
        cam = spec.camera
        state = (tuple(cam.location), tuple(cam.look_at), cam.lens_mm, cam.sensor_width_mm)
        if state != self._camera_state:
            self._camera.location = cam.location
            self._camera.rotation_mode = "QUATERNION"
            self._camera.rotation_quaternion = _look_at_quat(cam.location, cam.look_at)
            self._camera.data.lens = cam.lens_mm
            self._camera.data.sensor_width = cam.sensor_width_mm
            self._camera_state = state
        self._sync_lights(spec.lights)
        self._sync_objects(spec.objects)

    def _sync_lights(self, lights: list[Light]) -> None:
        bpy = self._bpy
        wanted = {light.name: light for light in lights}
        if len(wanted) != len(lights):
            raise ValueError(f"light names must be unique, got {[light.name for light in lights]}")
        for name in list(self._lights):
            if name not in wanted:
                obj, _ = self._lights.pop(name)
                data = obj.data
                bpy.data.objects.remove(obj)
                bpy.data.lights.remove(data)
        for name, light in wanted.items():
            if name in self._lights:
                obj, old = self._lights[name]
                if old == light:
                    continue
            else:
                data = bpy.data.lights.new(f"{self._prefix}_light_{name}", "AREA")
                data.shape = "SQUARE"
                obj = bpy.data.objects.new(f"{self._prefix}_light_{name}", data)
                obj.rotation_mode = "QUATERNION"
                self._scene.collection.objects.link(obj)
            obj.location = light.location
            obj.rotation_quaternion = _look_at_quat(light.location, (0.0, 0.0, 0.0))
            obj.data.energy = light.energy
            obj.data.size = light.size
            self._lights[name] = (obj, Light(light.name, list(light.location), light.energy, light.size))

    def _sync_objects(self, objects: list[ObjectSpec]) -> None:
        bpy = self._bpy
        vocab = self.vocab
        wanted: dict[int, ObjectSpec] = {}
        for o in objects:
            if o.id in wanted:
                raise ValueError(f"duplicate object id {o.id}")
            if not 0 <= o.id <= MAX_OBJECT_ID - 1:
                raise ValueError(f"object id {o.id} out of range [0, {MAX_OBJECT_ID - 1}] (instance maps store id + 1)")
            for attr, allowed in (("shape", self._meshes), ("material", self._materials),
                                  ("color", vocab.colors), ("size", vocab.sizes)):
                if getattr(o, attr) not in allowed:
                    raise ValueError(f"object {o.id}: unknown {attr} {getattr(o, attr)!r}; allowed: {sorted(allowed)}")
            wanted[o.id] = o
        for oid in list(self._objects):
            if oid not in wanted:
                obj, _ = self._objects.pop(oid)
                bpy.data.objects.remove(obj)
        for oid, o in wanted.items():
            if oid in self._objects:
                obj, old = self._objects[oid]
                if old == o:
                    continue
            else:
                obj = bpy.data.objects.new(f"{self._prefix}_obj{oid}", self._meshes[o.shape])
                obj.pass_index = oid + 1
                obj.rotation_mode = "XYZ"
                self._scene.collection.objects.link(obj)
                old = None
            if old is None or old.shape != o.shape:
                obj.data = self._meshes[o.shape]
                obj.material_slots[0].link = "OBJECT"
                old = None  # the slot is new: set the material again
            if old is None or old.material != o.material:
                obj.material_slots[0].material = self._materials[o.material]
            if old is None or old.color != o.color:
                obj.color = (*(srgb_to_linear(c) for c in vocab.colors[o.color]), 1.0)
            if old is None or old.size != o.size:  # a shape change has set old = None
                s = vocab.rest_height(o.shape, o.size)
                obj.scale = (s, s, s)
            if old is None or list(old.position) != list(o.position):
                obj.location = o.position
            if old is None or old.rotation != o.rotation:
                obj.rotation_euler = (0.0, 0.0, math.radians(o.rotation))
            self._objects[oid] = (obj, o.replace())

    # -- rendering --------------------------------------------------------------------------------
    def render(self, scene: SceneSpec, border: Rect | None = None) -> RenderResult:
        """Render ``scene``; with ``border`` (x0, y0, x1, y1 pixels) only that rectangle (Cycles'
        render border), the rest of the image and instance map is 0."""
        self._ensure()
        bpy = self._bpy
        t0 = time.perf_counter()
        self._sync(scene)
        self._set_border(border, scene.width, scene.height)
        t1 = time.perf_counter()
        with quiet_stdout(self.config.quiet):
            bpy.ops.render.render(scene=self._scene.name)
        t2 = time.perf_counter()
        path = os.path.join(self._tmp, "passes.exr")
        bpy.data.images["Render Result"].save_render(path, scene=self._scene)
        result = self._read(path, scene)
        t3 = time.perf_counter()
        self.last_timings = {"sync": t1 - t0, "render": t2 - t1, "readback": t3 - t2}
        return result

    def _set_border(self, border: Rect | None, width: int, height: int) -> None:
        r = self._scene.render
        if border is None:
            r.use_border = False
            return
        x0, y0, x1, y1 = border
        r.use_border = True
        r.use_crop_to_border = False  # full-size result, zeros outside: pixel coordinates stay
        # Blender's border is in fractions of the frame, y from the bottom (checked: renders exactly
        # pixels [x0, x1) x [y0, y1))
        r.border_min_x, r.border_max_x = x0 / width, x1 / width
        r.border_min_y, r.border_max_y = 1 - y1 / height, 1 - y0 / height

    def _read(self, path: str, spec: SceneSpec) -> RenderResult:
        chans = read_exr(path)
        layer = self._scene.view_layers[0].name
        rgb = np.stack([chans[f"{layer}.Combined.{c}"] for c in "RGB"], axis=-1)
        index = next((chans[k] for k in (f"{layer}.Object Index.X", f"{layer}.IndexOB.X") if k in chans), None)
        if index is None:  # 5.0 names the pass "Object Index", 4.5 "IndexOB"
            raise RuntimeError(f"no object index pass in Blender's output; channels: {sorted(chans)}")
        if rgb.shape[:2] != (spec.height, spec.width):
            raise RuntimeError(f"Blender rendered {rgb.shape[1]}x{rgb.shape[0]}, expected {spec.width}x{spec.height}")
        instances = np.rint(index).astype(np.int32)
        if not np.array_equal(instances, index):  # the index pass must hold exact integers
            raise RuntimeError("Cycles' object index pass is not integral: instance map would be inexact")
        return RenderResult(image=linear_to_srgb8(rgb), instances=instances)

    def render_pair(self, scene_a: SceneSpec, scene_b: SceneSpec) -> tuple[RenderResult, RenderResult]:
        """Render A, then B by changing only the objects/lights/camera that differ. With ``rerender:
        region`` B is rendered only inside :func:`~dig_render_blender.region.crops` (each crop grown
        by ``region_pad`` pixels that are thrown away) and pasted onto I_a and A's instance map:
        every pixel outside the crops is A's, and no instance id changes outside them."""
        a = self.render(scene_a)
        cfg = self.config
        rects = None
        if cfg.rerender == "region":
            rects = crops(scene_a, scene_b, self.vocab, cfg.region_margin, cfg.region_bleed, cfg.region_max_crops,
                          cfg.region_pad, cfg.region_max_share)
        self.last_crops = rects
        if rects is None:
            return a, self.render(scene_b)
        image, instances = a.image.copy(), a.instances.copy()
        timings = dict.fromkeys(("sync", "render", "readback"), 0.0)
        for rect in rects:
            crop = self.render(scene_b, grow(rect, cfg.region_pad, scene_b.width, scene_b.height))
            x0, y0, x1, y1 = rect
            image[y0:y1, x0:x1] = crop.image[y0:y1, x0:x1]
            instances[y0:y1, x0:x1] = crop.instances[y0:y1, x0:x1]
            for k, v in self.last_timings.items():
                timings[k] += v
        if not rects:
            self._sync(scene_b)  # B is A: nothing to render, but the scene follows the spec
        self.last_timings = timings
        return a, RenderResult(image=image, instances=instances)

    def _render_cheap(self, scene: SceneSpec, name: str) -> RenderResult:
        with quiet_stdout(self.config.quiet):
            self._bpy.ops.render.render(scene=self._scene.name)
        path = os.path.join(self._tmp, name)
        self._bpy.data.images["Render Result"].save_render(path, scene=self._scene)
        return self._read(path, scene)

    def render_preview(self, scene: SceneSpec) -> RenderResult:
        """``scene`` at 1 sample, no denoising, the configured bounces, full frame: the instance map
        :meth:`render` gives, pixel for pixel, and a noisy image (A and B share the seed, so their
        noise mostly cancels in a contrast). About 7% of a 16-sample render with denoising."""
        self._ensure()
        self._sync(scene)
        self._set_border(None, scene.width, scene.height)
        with one_sample(self._scene):
            return self._render_cheap(scene, "preview.exr")

    def render_alone(self, scene: SceneSpec, object_ids: list[int]) -> dict[int, np.ndarray]:
        """Per object id, its mask with every other object hidden (``hide_render``): one Cycles
        render each at 1 sample, no denoising, no bounces, same camera and resolution; only the
        object index pass is read. The scene's settings are restored afterwards."""
        self._ensure()
        self._sync(scene)
        objs = {oid: obj for oid, (obj, _) in self._objects.items()}
        out: dict[int, np.ndarray] = {}
        self._set_border(None, scene.width, scene.height)
        with one_sample(self._scene, bounces=False), each_alone(objs, object_ids) as alone:
            for oid in alone:
                out[oid] = self._render_cheap(scene, "alone.exr").instances == oid + 1
        return out

    def render_bare(self, scene: SceneSpec) -> float:
        """Benchmark helper: sync ``scene`` and run Cycles with no readback; seconds of the render."""
        self._ensure()
        self._sync(scene)
        self._set_border(None, scene.width, scene.height)
        t = time.perf_counter()
        with quiet_stdout(self.config.quiet):
            self._bpy.ops.render.render(scene=self._scene.name)
        return time.perf_counter() - t

    def info(self) -> dict[str, Any]:
        bpy = import_bpy()
        choice = self.device_choice()
        return {
            "name": self.PLUGIN_NAME,
            "plugin_version": __version__,
            "blender": bpy.app.version_string,
            "engine": "CYCLES",
            "device": "GPU" if choice.is_gpu else "CPU",
            "backend": choice.backend,
            # every GPU of the backend; with gpus_per_worker 1 each worker renders on one of them
            "gpus": [d.name for d in choice.devices],
            "rerender": self.config.rerender,
            "settings": asdict(self.config),
            "threads": self.config.threads or self.threads or (os.cpu_count() or 1),
            "view_transform": "Standard",
            "instance_map": "cycles object index pass (first camera sample per pixel)",
        }


def _inward(verts: list, face: tuple) -> bool:
    """Whether a face of a mesh centred on the origin winds inward."""
    from mathutils import Vector

    p = [Vector(verts[i]) for i in face[:3]]
    normal = (p[1] - p[0]).cross(p[2] - p[0])
    return normal.dot(sum(p, Vector()) / 3) < 0


__all__ = ["BlenderConfig", "BlenderRenderer", "linear_to_srgb8"]
