"""The cylinder Kubric lacks: a unit mesh (OBJ, for Blender) and collision shape (URDF, for PyBullet).

Kubric ships only ``Cube`` and ``Sphere`` primitives; its CLEVR/KuBasic assets live in a cloud bucket
this workspace cannot reach. A :class:`kubric.FileBasedObject` needs a render file and a simulation
file, so :func:`write_cylinder` writes both: radius 1 and half-height 1 (like Kubric's unit cube and
sphere, so ``scale = rest height`` for every shape), z up, centred on the origin.
"""

from __future__ import annotations

import math
from pathlib import Path

from dig_core.data.io import atomic_write_text


def cylinder_obj(segments: int) -> str:
    """Wavefront OBJ text: smooth side (radial normals) and flat caps, counter-clockwise faces."""
    ring = [(math.cos(2 * math.pi * j / segments), math.sin(2 * math.pi * j / segments)) for j in range(segments)]
    lines = ["# dig-render-kubric unit cylinder: radius 1, z in [-1, 1]"]
    lines += [f"v {x:.9f} {y:.9f} {z:.1f}" for z in (-1.0, 1.0) for x, y in ring]
    lines += [f"vn {x:.9f} {y:.9f} 0.0" for x, y in ring]
    lines += ["vn 0.0 0.0 -1.0", "vn 0.0 0.0 1.0"]
    n = segments
    down, up = n + 1, n + 2  # normal indices of the caps (1-based)
    for j in range(n):
        k = (j + 1) % n
        # bottom j, bottom k, top k, top j (1-based vertex ids), normals of the ring
        lines.append(f"f {j + 1}//{j + 1} {k + 1}//{k + 1} {n + k + 1}//{k + 1} {n + j + 1}//{j + 1}")
    lines.append("f " + " ".join(f"{j + 1}//{down}" for j in reversed(range(n))))
    lines.append("f " + " ".join(f"{n + j + 1}//{up}" for j in range(n)))
    return "\n".join(lines) + "\n"


def cylinder_urdf(mass: float = 1.0) -> str:
    """URDF of a unit cylinder (PyBullet scales it by the object's uniform scale)."""
    inertia = mass * (3 * 1.0 + 2.0**2) / 12  # solid cylinder about x/y: m (3r^2 + h^2) / 12
    return f"""<?xml version="1.0"?>
<robot name="dig_cylinder">
  <link name="base">
    <inertial>
      <origin xyz="0 0 0"/>
      <mass value="{mass}"/>
      <inertia ixx="{inertia}" ixy="0" ixz="0" iyy="{inertia}" iyz="0" izz="{mass / 2}"/>
    </inertial>
    <collision>
      <origin xyz="0 0 0"/>
      <geometry><cylinder radius="1" length="2"/></geometry>
    </collision>
  </link>
</robot>
"""


def write_cylinder(folder: str | Path, segments: int) -> tuple[str, str]:
    """Write ``cylinder.obj`` and ``cylinder.urdf`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    obj, urdf = folder / f"cylinder{segments}.obj", folder / "cylinder.urdf"
    atomic_write_text(obj, cylinder_obj(segments))
    atomic_write_text(urdf, cylinder_urdf())
    return str(obj), str(urdf)


__all__ = ["cylinder_obj", "cylinder_urdf", "write_cylinder"]
