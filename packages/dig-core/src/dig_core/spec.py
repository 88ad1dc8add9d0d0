"""Scene specs: the JSON description of a CLEVR-like scene that a renderer turns into an image.

Conventions (world units, Blender's): the ground plane is z = 0; an object of size ``r`` (its
footprint radius, from the vocabulary) rests with its centre at ``z = r * shape_scale`` (cubes are
scaled by 1/sqrt(2) so their footprint diagonal is ``r``, as in CLEVR); ``rotation`` is degrees about z.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from typing import Any

from dig_core.errors import SpecError

SPEC_VERSION = 1


@dataclass
class Vocabulary:
    """Allowed attribute values. ``shapes`` maps a shape to its height scale, ``colors`` to RGB 0-255,
    ``sizes`` to a footprint radius."""

    shapes: dict[str, float]
    materials: list[str]
    colors: dict[str, list[int]]
    sizes: dict[str, float]

    @classmethod
    def default(cls) -> Vocabulary:
        text = resources.files("dig_core").joinpath("data/vocabulary.json").read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        return cls(
            shapes={str(k): float(v) for k, v in dict(d["shapes"]).items()},
            materials=[str(m) for m in d["materials"]],
            colors={str(k): [int(c) for c in v] for k, v in dict(d["colors"]).items()},
            sizes={str(k): float(v) for k, v in dict(d["sizes"]).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rest_height(self, shape: str, size: str) -> float:
        return round(self.sizes[size] * self.shapes[shape], 6)


@dataclass
class ObjectSpec:
    id: int
    shape: str
    material: str
    color: str
    size: str
    position: list[float]  # [x, y, z]
    rotation: float = 0.0  # degrees about z

    def replace(self, **changes: Any) -> ObjectSpec:
        d = asdict(self)
        d.update(changes)
        return ObjectSpec(**d)

    def attributes(self) -> dict[str, Any]:
        """The attributes an edit may change, for `Difference.before/after` records."""
        return {
            "shape": self.shape,
            "material": self.material,
            "color": self.color,
            "size": self.size,
            "position": list(self.position),
            "rotation": self.rotation,
        }


@dataclass
class Camera:
    location: list[float]
    look_at: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    lens_mm: float = 35.0
    sensor_width_mm: float = 32.0


@dataclass
class Light:
    name: str  # key / fill / back
    location: list[float]
    energy: float
    size: float = 1.0


@dataclass
class SceneSpec:
    width: int
    height: int
    camera: Camera
    lights: list[Light]
    objects: list[ObjectSpec]
    seed: int = 0
    bounds: float = 3.0
    version: int = SPEC_VERSION

    # -- access ---------------------------------------------------------------------------------
    def object(self, object_id: int) -> ObjectSpec:
        for o in self.objects:
            if o.id == object_id:
                return o
        raise KeyError(object_id)

    def has_object(self, object_id: int) -> bool:
        return any(o.id == object_id for o in self.objects)

    def next_object_id(self) -> int:
        return max((o.id for o in self.objects), default=-1) + 1

    def copy(self) -> SceneSpec:
        return copy.deepcopy(self)

    def with_object(self, obj: ObjectSpec) -> SceneSpec:
        """A copy with ``obj`` replacing the object of the same id, or appended if new."""
        new = self.copy()
        for i, o in enumerate(new.objects):
            if o.id == obj.id:
                new.objects[i] = copy.deepcopy(obj)
                return new
        new.objects.append(copy.deepcopy(obj))
        return new

    def without_object(self, object_id: int) -> SceneSpec:
        new = self.copy()
        new.objects = [o for o in new.objects if o.id != object_id]
        return new

    # -- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # dataclass field order: stable

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneSpec:
        try:
            _check_keys("scene", d, cls)
            _check_keys("camera", d["camera"], Camera)
            for i, light in enumerate(d["lights"]):
                _check_keys(f"lights[{i}]", light, Light)
            for i, o in enumerate(d["objects"]):
                _check_keys(f"objects[{i}]", o, ObjectSpec)
            return cls(
                width=int(d["width"]),
                height=int(d["height"]),
                camera=Camera(**d["camera"]),
                lights=[Light(**light) for light in d["lights"]],
                objects=[ObjectSpec(**o) for o in d["objects"]],
                seed=int(d.get("seed", 0)),
                bounds=float(d.get("bounds", 3.0)),
                version=int(d.get("version", SPEC_VERSION)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SpecError(f"scene spec is malformed: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> SceneSpec:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"scene spec is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise SpecError("scene spec must be a JSON object")
        return cls.from_dict(d)


def _check_keys(where: str, d: Any, cls: type) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"scene spec {where}: expected an object, got {type(d).__name__}")
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise SpecError(f"scene spec {where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _is_point(position: Any) -> bool:
    """Three finite real numbers (bools and strings are not coordinates)."""
    if not isinstance(position, (list, tuple)) or len(position) != 3:
        return False
    return all(isinstance(c, numbers.Real) and not isinstance(c, bool) and math.isfinite(c) for c in position)


def footprint_distance(a: ObjectSpec, b: ObjectSpec, vocab: Vocabulary) -> float:
    """Gap on the ground plane between two objects' footprint circles (negative = overlap)."""
    dx = a.position[0] - b.position[0]
    dy = a.position[1] - b.position[1]
    return math.hypot(dx, dy) - vocab.sizes[a.size] - vocab.sizes[b.size]


def scene_problems(scene: SceneSpec, vocab: Vocabulary, min_dist: float = 0.0) -> list[str]:
    """Every reason ``scene`` is not physically valid (empty list = valid).

    Checks: known attribute values, unique ids, object resting on the ground plane, inside
    ``[-bounds, bounds]``, and footprints at least ``min_dist`` apart (0 = merely not overlapping).
    """
    problems: list[str] = []
    seen: set[int] = set()
    checks = (("shape", vocab.shapes), ("material", vocab.materials), ("color", vocab.colors), ("size", vocab.sizes))
    for o in scene.objects:
        tag = f"object {o.id}"
        if o.id in seen:
            problems.append(f"{tag}: duplicate id")
        seen.add(o.id)
        bad_value = False
        for attr, allowed in checks:
            value = getattr(o, attr)
            if value not in allowed:
                problems.append(f"{tag}: unknown {attr} {value!r}; allowed: {sorted(allowed)}")
                bad_value = True
        if not _is_point(o.position):
            problems.append(f"{tag}: position must be three finite numbers, got {o.position!r}")
            continue
        x, y, z = (float(c) for c in o.position)
        if abs(x) > scene.bounds or abs(y) > scene.bounds:
            problems.append(f"{tag}: out of bounds at ({x:.3f}, {y:.3f}); allowed |x|, |y| <= {scene.bounds}")
        if not bad_value:
            want = vocab.rest_height(o.shape, o.size)
            if abs(z - want) > 1e-4:
                problems.append(f"{tag}: off the ground plane (z={z:.4f}, a {o.size} {o.shape} rests at z={want:.4f})")
    if problems:
        return problems
    objs = scene.objects
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            gap = footprint_distance(objs[i], objs[j], vocab)
            if gap < min_dist:
                what = "overlap" if gap < 0 else f"are closer than min_dist={min_dist}"
                problems.append(f"objects {objs[i].id} and {objs[j].id} {what} (gap {gap:.3f})")
    return problems


def validate_scene(scene: SceneSpec, vocab: Vocabulary, min_dist: float = 0.0) -> None:
    """Raise :class:`SpecError` listing every problem of ``scene``."""
    problems = scene_problems(scene, vocab, min_dist)
    if problems:
        raise SpecError("invalid scene:\n" + "\n".join(f"  - {p}" for p in problems))
