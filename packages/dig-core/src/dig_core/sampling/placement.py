"""CLEVR-style placement on the ground plane: where a new object of a given footprint may go.

A spot is free when its footprint keeps ``min_dist`` from every other footprint and its centre is at
least ``margin`` away from every other centre along both ground directions of the camera (left/right
and front/back), so no two objects line up in depth or side by side (as CLEVR's generator does).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from dig_core.spec import Camera, ObjectSpec, Vocabulary

#: decimals kept for sampled positions, so a scene's JSON is stable
POSITION_DECIMALS = 4


def ground_directions(camera: Camera) -> tuple[tuple[float, float], tuple[float, float]]:
    """Unit vectors ``(right, forward)`` on the ground: the camera's viewing direction projected to
    z = 0 (``forward``, pointing away from the camera) and its right-hand side."""
    fx = camera.look_at[0] - camera.location[0]
    fy = camera.look_at[1] - camera.location[1]
    n = math.hypot(fx, fy)
    if n < 1e-9:  # looking straight down: any orthonormal pair will do
        return (1.0, 0.0), (0.0, 1.0)
    fx, fy = fx / n, fy / n
    return (fy, -fx), (fx, fy)


def spot_is_free(
    x: float,
    y: float,
    radius: float,
    others: Iterable[ObjectSpec],
    vocab: Vocabulary,
    min_dist: float,
    margin: float,
    directions: tuple[tuple[float, float], tuple[float, float]],
) -> bool:
    """Whether a footprint of ``radius`` centred at ``(x, y)`` respects ``min_dist`` and ``margin``
    with respect to every object in ``others``."""
    for o in others:
        dx, dy = x - o.position[0], y - o.position[1]
        if math.hypot(dx, dy) - radius - vocab.sizes[o.size] < min_dist:
            return False
        for ux, uy in directions:
            if abs(dx * ux + dy * uy) < margin:
                return False
    return True


def find_free_spot(
    radius: float,
    others: list[ObjectSpec],
    bounds: float,
    camera: Camera,
    vocab: Vocabulary,
    rng: random.Random,
    min_dist: float,
    margin: float,
    attempts: int,
) -> tuple[float, float] | None:
    """Up to ``attempts`` uniform draws in ``[-bounds, bounds]^2``; the first free spot (rounded to
    :data:`POSITION_DECIMALS`), or None."""
    directions = ground_directions(camera)
    for _ in range(attempts):
        x = round(rng.uniform(-bounds, bounds), POSITION_DECIMALS)
        y = round(rng.uniform(-bounds, bounds), POSITION_DECIMALS)
        if spot_is_free(x, y, radius, others, vocab, min_dist, margin, directions):
            return x, y
    return None
