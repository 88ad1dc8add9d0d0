"""A DiG :class:`~dig_core.spec.SceneSpec` as a Kubric scene, kept in sync spec after spec.

The mapping is the Blender plugin's, in Kubric's terms, so one spec looks alike in both renderers:
a static floor whose top face is the ground plane z = 0, the world's ambient light and background
(``ground_color * world_strength``), one ``PerspectiveCamera`` (lens, sensor width, look-at), one
``RectAreaLight`` per spec light (square, aimed at the origin), and per object a ``Cube`` /
``Sphere`` / ``FileBasedObject`` (the generated cylinder) of uniform scale = the object's rest height
(unit meshes have half-extent 1), yawed by ``rotation`` degrees, with its own
``PrincipledBSDFMaterial`` (CLEVR rubber / metal, the vocabulary color in linear RGB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dig_core.spec import Light, ObjectSpec, SceneSpec, Vocabulary
from dig_render_blender.cycles import srgb_to_linear  # the same color conversion as the blender plugin

#: CLEVR's two materials as Principled BSDF settings (the Blender plugin's values)
MATERIALS = {
    "rubber": {"metallic": 0.0, "roughness": 0.75, "specular": 0.35},
    "metal": {"metallic": 1.0, "roughness": 0.25, "specular": 0.5},
}
SHAPES = ("cube", "sphere", "cylinder")
FLOOR_HALF = 100.0  # the floor box: 200 x 200, top face at z = 0


def yaw_quaternion(degrees: float) -> tuple[float, float, float, float]:
    """(w, x, y, z) of a rotation by ``degrees`` about z (Kubric's quaternion order)."""
    h = math.radians(degrees) / 2
    return (math.cos(h), 0.0, 0.0, math.sin(h))


@dataclass
class Look:
    """The renderer settings that shape the scene's look (``KubricConfig`` fields of the same names)."""

    ground_color: float = 0.5
    ground_roughness: float = 0.35
    world_strength: float = 0.35
    friction: float = 0.5
    restitution: float = 0.1


class KubricScene:
    """One ``kb.Scene`` plus the DiG ids of its assets; :meth:`sync` applies a spec by touching only
    what changed (a shape change swaps the object, everything else sets Kubric traits, which the
    linked views propagate)."""

    def __init__(self, kb: Any, vocab: Vocabulary, cylinder: tuple[str, str], look: Look, **scene_kwargs: Any):
        self.kb = kb
        self.vocab = vocab
        self.cylinder = cylinder
        self.look = look
        self.scene = kb.Scene(**scene_kwargs)
        self.camera: Any = None
        self.lights: dict[str, tuple[Any, Light]] = {}
        self.objects: dict[int, tuple[Any, Any, ObjectSpec]] = {}  # id -> (object, material, spec)

    def link(self, view_factory: Any) -> Any:
        """Create a view (renderer / simulator) on this scene; call before adding assets."""
        return view_factory(self.scene)

    def add_stage(self, with_camera: bool = True) -> None:
        kb, look = self.kb, self.look
        g = look.ground_color
        self.floor = kb.Cube(name="floor", scale=(FLOOR_HALF, FLOOR_HALF, 1.0), position=(0.0, 0.0, -1.0),
                             static=True, friction=look.friction, restitution=look.restitution,
                             material=kb.PrincipledBSDFMaterial(name="floor_material", color=kb.Color(g, g, g, 1.0),
                                                                metallic=0.0, roughness=look.ground_roughness,
                                                                specular=0.5))
        self.scene += self.floor
        w = g * look.world_strength  # Kubric's world: Background nodes of strength 1
        self.scene.ambient_illumination = kb.Color(w, w, w, 1.0)
        self.scene.background = kb.Color(w, w, w, 1.0)
        if with_camera:
            self.camera = kb.PerspectiveCamera(name="camera", min_render_distance=0.1, max_render_distance=1000.0)
            self.scene += self.camera
            self.scene.camera = self.camera

    # -- objects ---------------------------------------------------------------------------------------
    def check(self, o: ObjectSpec) -> None:
        for attr, allowed in (("shape", SHAPES), ("material", MATERIALS), ("color", self.vocab.colors),
                              ("size", self.vocab.sizes)):
            if getattr(o, attr) not in allowed:
                raise ValueError(f"object {o.id}: unknown {attr} {getattr(o, attr)!r}; allowed: {sorted(allowed)}")
        if o.shape not in self.vocab.shapes:
            raise ValueError(f"object {o.id}: shape {o.shape!r} is not in the vocabulary {sorted(self.vocab.shapes)}")

    def color(self, name: str) -> Any:
        return self.kb.Color(*(srgb_to_linear(c) for c in self.vocab.colors[name]), 1.0)

    def new_object(self, o: ObjectSpec, material: Any, z_offset: float = 0.0) -> Any:
        kb = self.kb
        s = self.vocab.rest_height(o.shape, o.size)
        kw = dict(name=f"obj{o.id}", scale=(s, s, s), position=(o.position[0], o.position[1], o.position[2] + z_offset),
                  quaternion=yaw_quaternion(o.rotation), material=material, mass=1.0,
                  friction=self.look.friction, restitution=self.look.restitution)
        if o.shape == "cube":
            return kb.Cube(**kw)
        if o.shape == "sphere":
            return kb.Sphere(**kw)
        render, simulation = self.cylinder
        return kb.FileBasedObject(asset_id="dig_cylinder", render_filename=render, simulation_filename=simulation,
                                  render_import_kwargs={"forward_axis": "Y", "up_axis": "Z"}, **kw)

    def new_material(self, o: ObjectSpec) -> Any:
        return self.kb.PrincipledBSDFMaterial(name=f"mat{o.id}", color=self.color(o.color), **MATERIALS[o.material])

    def add_object(self, o: ObjectSpec, z_offset: float = 0.0) -> Any:
        self.check(o)
        mat = self.new_material(o)
        self.scene += mat  # a scene asset of its own, so removing the object can remove it too
        obj = self.new_object(o, mat, z_offset)
        self.scene += obj
        self.objects[o.id] = (obj, mat, o.replace())
        return obj

    def sync(self, spec: SceneSpec) -> None:
        """Make the Kubric scene show ``spec`` (camera, lights, objects, resolution)."""
        sc = self.scene
        if tuple(sc.resolution) != (spec.width, spec.height):
            sc.resolution = (spec.width, spec.height)
        cam = spec.camera
        if self.camera is not None:
            self.camera.position = tuple(cam.location)
            self.camera.look_at(tuple(cam.look_at))
            self.camera.focal_length = cam.lens_mm
            self.camera.sensor_width = cam.sensor_width_mm
        self._sync_lights(spec.lights)
        self._sync_objects(spec.objects)

    def _sync_lights(self, lights: list[Light]) -> None:
        wanted = {light.name: light for light in lights}
        if len(wanted) != len(lights):
            raise ValueError(f"light names must be unique, got {[light.name for light in lights]}")
        for name in list(self.lights):
            if name not in wanted:
                self.scene.remove(self.lights.pop(name)[0])
        for name, light in wanted.items():
            if name in self.lights and self.lights[name][1] == light:
                continue
            if name not in self.lights:
                obj = self.kb.RectAreaLight(name=f"light_{name}")
                self.scene += obj
            else:
                obj = self.lights[name][0]
            obj.position = tuple(light.location)
            obj.look_at((0.0, 0.0, 0.0))
            obj.intensity = light.energy
            obj.width = obj.height = light.size
            self.lights[name] = (obj, Light(light.name, list(light.location), light.energy, light.size))

    def _sync_objects(self, objects: list[ObjectSpec]) -> None:
        wanted: dict[int, ObjectSpec] = {}
        for o in objects:
            if o.id in wanted:
                raise ValueError(f"duplicate object id {o.id}")
            self.check(o)
            wanted[o.id] = o
        for oid in list(self.objects):
            if oid not in wanted:
                obj, mat, _ = self.objects.pop(oid)
                self.scene.remove(obj)
                self.scene.remove(mat)
        for oid, o in wanted.items():
            if oid not in self.objects:
                self.add_object(o)
                continue
            obj, mat, old = self.objects[oid]
            if old == o:
                continue
            if old.shape != o.shape:
                self.scene.remove(obj)
                obj = self.new_object(o, mat)
                self.scene += obj
            if old.material != o.material:
                for k, v in MATERIALS[o.material].items():
                    setattr(mat, k, v)
            if old.color != o.color:
                mat.color = self.color(o.color)
            if old.size != o.size or old.shape != o.shape:
                s = self.vocab.rest_height(o.shape, o.size)
                obj.scale = (s, s, s)
            if list(old.position) != list(o.position):
                obj.position = tuple(o.position)
            if old.rotation != o.rotation:
                obj.quaternion = yaw_quaternion(o.rotation)
            self.objects[oid] = (obj, mat, o.replace())

    def ids_by_uid(self) -> dict[str, int]:
        """Kubric uid (the Blender object name Cryptomatte hashes) -> DiG object id."""
        return {obj.uid: oid for oid, (obj, _, _) in self.objects.items()}


__all__ = ["MATERIALS", "SHAPES", "KubricScene", "Look", "yaw_quaternion"]
