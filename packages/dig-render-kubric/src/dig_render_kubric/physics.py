"""Physics-settled placement: drop a scene's objects with Kubric's PyBullet simulator.

Every object starts ``drop_height`` above its resting pose (same x, y, yaw), falls onto the static
floor for ``seconds`` of simulated time (240 Hz steps), and the final poses replace the spec's.
A settled scene is rejected (:class:`~dig_core.render.SceneRejected`) when an object left the table
(``|x|`` or ``|y|`` beyond ``scene.bounds``), did not come to rest upright on the ground
(``not_upright``: tipped, or its height differs from the rest height by more than ``z_tolerance``),
or ends up touching another object (``touching``: footprint gap below ``min_gap``).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from typing import Any

from dig_core.render import SceneRejected
from dig_core.sampling.placement import POSITION_DECIMALS
from dig_core.spec import SceneSpec, Vocabulary, footprint_distance

from dig_render_kubric.scene_map import KubricScene, Look

REASONS = ("off_table", "not_upright", "touching")
STEP_RATE, FRAME_RATE = 240, 24


@dataclass
class Settled:
    """The settled spec, and what the simulator reported per object id (raw, before rounding)."""

    scene: SceneSpec
    positions: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    quaternions: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)


def yaw_degrees(q: tuple[float, float, float, float]) -> float:
    """Heading about z (degrees, [0, 360)) of a (w, x, y, z) quaternion."""
    w, x, y, z = q
    return math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))) % 360.0


def up_cosine(q: tuple[float, float, float, float]) -> float:
    """cos of the angle between the object's z axis and the world's z axis."""
    w, x, y, _ = q
    return 1 - 2 * (x * x + y * y)


def simulate(kb: Any, pybullet_module: Any, spec: SceneSpec, vocab: Vocabulary, cylinder: tuple[str, str],
             look: Look, drop_height: float, seconds: float) -> Settled:
    """Drop ``spec``'s objects and return the raw settled poses (nothing checked, nothing rounded)."""
    frames = max(1, round(seconds * FRAME_RATE))
    ks = KubricScene(kb, vocab, cylinder, look, frame_start=0, frame_end=frames, frame_rate=FRAME_RATE,
                     step_rate=STEP_RATE, gravity=(0.0, 0.0, -9.81))
    with tempfile.TemporaryDirectory(prefix="dig-kubric-sim-") as scratch:
        sim = pybullet_module.PyBullet(ks.scene, scratch)
        try:
            ks.add_stage(with_camera=False)
            for o in spec.objects:
                ks.add_object(o, z_offset=drop_height)
            sim.run(frame_start=0, frame_end=frames)
            out = Settled(spec)
            for oid, (obj, _, _) in ks.objects.items():
                out.positions[oid] = tuple(float(c) for c in obj.position)
                out.quaternions[oid] = tuple(float(c) for c in obj.quaternion)
        finally:
            # disconnect now, and stop Kubric's client from disconnecting again when it is garbage
            # collected: by then PyBullet may have handed the same id to a newer simulation
            pybullet_module.pb.disconnect(physicsClientId=sim.physics_client)
            sim._physics_client._client = -1
    return out


def settle(kb: Any, pybullet_module: Any, spec: SceneSpec, vocab: Vocabulary, cylinder: tuple[str, str],
           look: Look, drop_height: float = 0.05, seconds: float = 1.0, min_gap: float = 0.02,
           z_tolerance: float = 0.01, max_tilt_degrees: float = 5.0) -> Settled:
    """:func:`simulate`, then check and write back: positions (x, y rounded like sampled ones, z =
    the exact rest height) and yaw (spheres keep theirs: their spin is invisible and arbitrary).
    Raises :class:`SceneRejected` with a reason of :data:`REASONS`."""
    raw = simulate(kb, pybullet_module, spec, vocab, cylinder, look, drop_height, seconds)
    cos_max = math.cos(math.radians(max_tilt_degrees))
    new = spec.copy()
    for i, o in enumerate(new.objects):
        x, y, z = raw.positions[o.id]
        q = raw.quaternions[o.id]
        if abs(x) > spec.bounds or abs(y) > spec.bounds or not (math.isfinite(x) and math.isfinite(y)):
            raise SceneRejected("off_table", f"object {o.id} settled at ({x:.3f}, {y:.3f}), outside "
                                             f"|x|, |y| <= {spec.bounds}")
        rest = vocab.rest_height(o.shape, o.size)
        if abs(z - rest) > z_tolerance or (o.shape != "sphere" and up_cosine(q) < cos_max):
            raise SceneRejected("not_upright", f"object {o.id} ({o.shape}) settled at z={z:.4f} "
                                               f"(rests at {rest:.4f}), tilt cos {up_cosine(q):.4f}")
        rotation = o.rotation if o.shape == "sphere" else round(yaw_degrees(q), POSITION_DECIMALS) % 360.0
        new.objects[i] = o.replace(position=[round(x, POSITION_DECIMALS), round(y, POSITION_DECIMALS), rest],
                                   rotation=rotation)
    objs = new.objects
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            gap = footprint_distance(objs[i], objs[j], vocab)
            if gap < min_gap:
                raise SceneRejected("touching", f"objects {objs[i].id} and {objs[j].id} settled {gap:.3f} apart "
                                                f"(min_gap {min_gap})")
    raw.scene = new
    return raw


__all__ = ["REASONS", "Settled", "settle", "simulate", "up_cosine", "yaw_degrees"]
