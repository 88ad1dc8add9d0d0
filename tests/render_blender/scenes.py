"""Small fixed CLEVR-like scenes for the renderer tests (no sampler needed)."""

from __future__ import annotations

from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary

VOCAB = Vocabulary.default()
W, H = 160, 107


def obj(i: int, shape: str, material: str, color: str, size: str, x: float, y: float, rot: float = 0.0) -> ObjectSpec:
    return ObjectSpec(i, shape, material, color, size, [x, y, VOCAB.rest_height(shape, size)], rot)


def base_scene(width: int = W, height: int = H, seed: int = 3) -> SceneSpec:
    """Six objects, every shape/material, CLEVR's default camera and three area lights."""
    return SceneSpec(
        width,
        height,
        Camera([7.48, -6.51, 5.34], [0.0, 0.0, 0.0], 35.0, 32.0),
        [
            Light("key", [6.44, -2.91, 6.0], 400.0, 1.0),
            Light("fill", [-4.67, -4.01, 3.01], 120.0, 1.0),
            Light("back", [-1.15, 4.4, 5.5], 200.0, 1.0),
        ],
        [
            obj(0, "cube", "rubber", "red", "large", 0.0, 0.0, 30.0),
            obj(1, "sphere", "metal", "blue", "large", -2.0, 1.5),
            obj(2, "cylinder", "rubber", "green", "small", 1.8, -1.6),
            obj(3, "sphere", "rubber", "yellow", "small", 2.2, 1.2),
            obj(4, "cube", "metal", "purple", "small", -1.5, -2.0, 10.0),
            obj(5, "cylinder", "metal", "cyan", "large", 0.5, 2.4),
        ],
        seed=seed,
    )
