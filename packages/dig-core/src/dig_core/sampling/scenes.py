"""The base-scene sampler: a random CLEVR-like :class:`SceneSpec` from a ``scene`` config and a seed."""

from __future__ import annotations

import math
import random
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dig_core.errors import SamplingError
from dig_core.sampling.placement import POSITION_DECIMALS, find_free_spot
from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary

#: CLEVR's camera, looking at the origin; jittered by ``scene.camera_jitter`` per axis
BASE_CAMERA = (7.48, -6.51, 5.34)

#: CLEVR's key / fill / back area lights (positions), jittered by ``scene.light_jitter`` per axis,
#: with energies in Blender watts (key brightest, fill softest; chosen with the blender renderer for
#: CLEVR-like exposure) and area-light sizes
BASE_LIGHTS: tuple[tuple[str, tuple[float, float, float], float, float], ...] = (
    ("key", (6.4467, -2.9052, 4.2584), 400.0, 1.0),
    ("fill", (-4.6711, -4.0136, 3.0112), 120.0, 1.0),
    ("back", (-1.1685, 2.6460, 5.8157), 200.0, 1.0),
)


def vocabulary_from_config(cfg_scene: Any) -> Vocabulary:
    """The vocabulary of a ``scene`` config section (the shipped one unless config overrides it)."""
    vocab = cfg_scene.vocabulary
    if isinstance(vocab, DictConfig):
        vocab = OmegaConf.to_container(vocab, resolve=True)
    return Vocabulary.from_dict(vocab)


def _jitter(rng: random.Random, base: tuple[float, ...], amount: float) -> list[float]:
    return [round(c + rng.uniform(-amount, amount), POSITION_DECIMALS) for c in base]


def sample_camera(rng: random.Random, jitter: float) -> Camera:
    return Camera(location=_jitter(rng, BASE_CAMERA, jitter), look_at=[0.0, 0.0, 0.0])


def sample_lights(rng: random.Random, jitter: float) -> list[Light]:
    return [Light(name, _jitter(rng, pos, jitter), energy, size) for name, pos, energy, size in BASE_LIGHTS]


def _describe(cfg_scene: Any, vocab: Vocabulary, n: int) -> str:
    sizes = ", ".join(f"{k}={v}" for k, v in vocab.sizes.items())
    return (
        f"{n} objects (scene.min_objects={cfg_scene.min_objects}, scene.max_objects={cfg_scene.max_objects}) "
        f"with sizes {{{sizes}}} in scene.bounds={cfg_scene.bounds}, scene.min_dist={cfg_scene.min_dist}, "
        f"scene.margin={cfg_scene.margin}"
    )


def floor_capacity(cfg_scene: Any, vocab: Vocabulary) -> int:
    """The most objects the floor can hold by area: footprints of the smallest size plus half of
    ``scene.min_dist`` around each, in the floor grown by that radius (an upper bound)."""
    rho = min(vocab.sizes.values()) + cfg_scene.min_dist / 2
    floor = (2 * cfg_scene.bounds + 2 * rho) ** 2
    return int(floor // (math.pi * rho**2))


def _check_room(cfg_scene: Any, vocab: Vocabulary, n: int) -> None:
    """Fail at once when even the smallest objects cannot fit by area (no point retrying)."""
    if n > floor_capacity(cfg_scene, vocab):
        raise SamplingError(
            f"cannot place {_describe(cfg_scene, vocab, n)}: their footprints need more area than the floor "
            f"has; lower scene.max_objects, raise scene.bounds or lower scene.min_dist"
        )


def _try_place(cfg_scene: Any, vocab: Vocabulary, n: int, camera: Camera, rng: random.Random) -> list[ObjectSpec] | None:
    shapes, colors, sizes = list(vocab.shapes), list(vocab.colors), list(vocab.sizes)
    objects: list[ObjectSpec] = []
    for i in range(n):
        size = rng.choice(sizes)
        spot = find_free_spot(
            vocab.sizes[size], objects, cfg_scene.bounds, camera, vocab, rng,
            cfg_scene.min_dist, cfg_scene.margin, cfg_scene.max_attempts,
        )
        if spot is None:
            return None
        shape = rng.choice(shapes)
        objects.append(
            ObjectSpec(
                id=i,
                shape=shape,
                material=rng.choice(vocab.materials),
                color=rng.choice(colors),
                size=size,
                position=[spot[0], spot[1], vocab.rest_height(shape, size)],
                rotation=round(rng.uniform(0.0, 360.0), POSITION_DECIMALS),
            )
        )
    return objects


def sample_scene(cfg_scene: Any, vocab: Vocabulary, seed: int) -> SceneSpec:
    """A random scene: N in ``[min_objects, max_objects]`` objects placed CLEVR-style, a jittered
    camera and key/fill/back lights. The same ``seed`` gives the same scene (only a
    ``random.Random(seed)`` is used). ``cfg_scene`` is the ``scene`` config section (a
    :class:`dig_core.config.SceneConfig` or its DictConfig).

    An object gets ``scene.max_attempts`` placement tries; then the whole scene is re-placed, at
    most ``scene.max_restarts`` times, before :class:`SamplingError` names the config values.
    """
    rng = random.Random(seed)
    n = rng.randint(cfg_scene.min_objects, cfg_scene.max_objects)
    _check_room(cfg_scene, vocab, n)
    camera = sample_camera(rng, cfg_scene.camera_jitter)
    lights = sample_lights(rng, cfg_scene.light_jitter)
    for _ in range(cfg_scene.max_restarts):
        objects = _try_place(cfg_scene, vocab, n, camera, rng)
        if objects is not None:
            return SceneSpec(
                width=cfg_scene.width, height=cfg_scene.height, camera=camera, lights=lights,
                objects=objects, seed=seed, bounds=float(cfg_scene.bounds),
            )
    raise SamplingError(
        f"could not place {_describe(cfg_scene, vocab, n)} within scene.max_attempts={cfg_scene.max_attempts} "
        f"tries per object and scene.max_restarts={cfg_scene.max_restarts} restarts (seed {seed}); "
        f"lower scene.max_objects, scene.min_dist or scene.margin, or raise scene.bounds"
    )
