"""Where I_b can differ from I_a: the crops that ``rerender: region`` renders of scene B.

Pure geometry on the two scene specs (no render): for every object whose spec differs between A
and B (added, removed or edited; both versions), conservative 3D hulls are projected into the image:

- the object's bounding box (a cube's turns with it; spheres and cylinders: upright, half-width = radius);
- its shadow on the ground from every light: the box corners projected from the 4 corners of the
  square area light (facing the origin, as the renderer places it) onto z = 0 (a shadow that falls on another object lies on the
  segment between the object and the ground, inside the projected hull too); skipped when only the
  object's color or material changed (same shape, same shadow);
- its mirror image in the (glossy) ground: the box with z negated;
- a ground margin of ``bleed`` object radii around its foot (light it bounces onto the ground).

The hulls (the object with its mirror and bleed; the object with one light's shadow) are filled in
the image, grown by ``margin`` pixels (:func:`region_mask`), and covered by a few rectangles at the
least rendered area (:func:`mask_crops`: horizontal bands, so a long diagonal shadow costs a strip,
not its bounding box). Reflections in other (metal) objects are not covered; docs/render-blender.md
measures what that costs. :func:`crops` returns None when A and B differ in anything but objects (camera, lights,
size, seed) or when a light is not above an edited object: then B is rendered in full.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from dig_core.sketch import camera_axes as _camera_axes
from dig_core.sketch import project
from dig_core.spec import Light, ObjectSpec, SceneSpec, Vocabulary

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels, top row first


def _box_corners(o: ObjectSpec, vocab: Vocabulary) -> np.ndarray:
    """The 8 corners of a box holding the object: the unit meshes (half-extent 1) are scaled by the
    rest height s; a cube's corners turn with it, spheres and cylinders fit in an upright +-s box."""
    s = vocab.rest_height(o.shape, o.size)
    x, y, z = o.position
    if o.shape == "cube":
        t = math.radians(o.rotation)
        c, si = math.cos(t) * s, math.sin(t) * s
        xy = [(dx * c - dy * si, dx * si + dy * c) for dx in (-1, 1) for dy in (-1, 1)]
    else:
        xy = [(dx * s, dy * s) for dx in (-1, 1) for dy in (-1, 1)]
    return np.array([(x + dx, y + dy, z + dz) for dx, dy in xy for dz in (-s, s)])


def light_corners(light: Light) -> np.ndarray:
    """The 4 corners of a square area light of ``light.size`` at its location, facing the origin."""
    _, right, up = _camera_axes(light.location, (0.0, 0.0, 0.0))
    h = light.size / 2
    loc = np.asarray(light.location, dtype=float)
    return np.array([loc + dx * right + dy * up for dx in (-h, h) for dy in (-h, h)])


def object_hulls(o: ObjectSpec, scene: SceneSpec, vocab: Vocabulary, bleed: float,
                 shadows: bool = True) -> list[np.ndarray] | None:
    """Point sets whose convex hulls together hold the object with its ground mirror image and bleed
    margin (the first set) and, if ``shadows``, the object with its shadow from each light (one set
    per light); None if a light is not above the object (its shadow would be unbounded)."""
    box = _box_corners(o, vocab)
    own = [box, box * np.array([1.0, 1.0, -1.0])]
    if bleed > 0:
        s = vocab.rest_height(o.shape, o.size)
        x, y, _ = o.position
        g = s * (1.0 + bleed) * (math.sqrt(2.0) if o.shape == "cube" else 1.0)
        own.append(np.array([(x + dx, y + dy, 0.0) for dx in (-g, g) for dy in (-g, g)]))
    hulls = [np.concatenate(own)]
    top = box[:, 2].max()
    for light in scene.lights if shadows else ():
        lc = light_corners(light)
        if lc[:, 2].min() <= top + 1e-6:
            return None
        pts = [box]
        for L in lc:
            t = L[2] / (L[2] - box[:, 2])  # along L -> corner, where z reaches 0
            pts.append(L + (box - L) * t[:, None])
        hulls.append(np.concatenate(pts))
    return hulls


_LOOK = ("color", "material")  # edits that leave the object's shape, so its shadow, unchanged


def changed_objects(a: SceneSpec, b: SceneSpec) -> list[tuple[SceneSpec, ObjectSpec, bool]]:
    """Every object that is not the same in A and B, with the scene it is in (both versions of an
    edited object) and whether its shadow can change (False when only color/material differ)."""
    ia = {o.id: o for o in a.objects}
    ib = {o.id: o for o in b.objects}
    out: list[tuple[SceneSpec, ObjectSpec, bool]] = []
    for oid in sorted(set(ia) | set(ib)):
        oa, ob = ia.get(oid), ib.get(oid)
        if oa == ob:
            continue
        shadow = oa is None or ob is None or oa.replace(**{k: getattr(ob, k) for k in _LOOK}) != ob
        out += [(s, o, shadow) for s, o in ((a, oa), (b, ob)) if o is not None]
    return out


def same_but_objects(a: SceneSpec, b: SceneSpec) -> bool:
    da, db = a.to_dict(), b.to_dict()
    da.pop("objects")
    db.pop("objects")
    return da == db


def hull_mask(px: np.ndarray, width: int, height: int, margin: float) -> np.ndarray:
    """Pixels whose area comes within ``margin`` pixels of the convex hull of the points ``px``."""
    pts = sorted(set(map(tuple, np.round(px, 6).tolist())))
    if len(pts) < 3:
        hull = pts
    else:  # Andrew's monotone chain, counter-clockwise in (x, y)
        def half(points):
            out: list = []
            for p in points:
                while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                         - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                    out.pop()
                out.append(p)
            return out
        hull = half(pts)[:-1] + half(pts[::-1])[:-1]
    reach = margin + math.sqrt(0.5)  # a pixel centre this close: the pixel touches the grown hull
    x0, y0 = (max(0, int(math.floor(v - reach))) for v in np.min(px, axis=0))
    x1 = min(width, int(math.ceil(np.max(px[:, 0]) + reach)) + 1)
    y1 = min(height, int(math.ceil(np.max(px[:, 1]) + reach)) + 1)
    mask = np.zeros((height, width), dtype=bool)
    if x1 <= x0 or y1 <= y0:
        return mask
    gy, gx = np.mgrid[y0:y1, x0:x1] + 0.5
    inside = np.ones(gx.shape, dtype=bool)
    if len(hull) >= 3:
        for (ax, ay), (bx, by) in zip(hull, hull[1:] + hull[:1]):
            ex, ey = bx - ax, by - ay
            norm = math.hypot(ex, ey) or 1.0
            # outward normal of a counter-clockwise edge is (ey, -ex)
            inside &= ((gx - ax) * ey - (gy - ay) * ex) / norm <= reach
    mask[y0:y1, x0:x1] = inside
    return mask


def region_mask(a: SceneSpec, b: SceneSpec, vocab: Vocabulary, margin: int = 4,
                bleed: float = 1.0) -> np.ndarray | None:
    """Pixels where I_b may differ from I_a (union of every changed object's grown hulls); None when
    B must be rendered in full (see the module docstring)."""
    if not same_but_objects(a, b):
        return None
    w, h = a.width, a.height
    mask = np.zeros((h, w), dtype=bool)
    for scene, o, shadow in changed_objects(a, b):
        hulls = object_hulls(o, scene, vocab, bleed, shadow)
        if hulls is None:
            return None
        for pts in hulls:
            px = project(scene.camera, w, h, pts)
            if px is None:
                return None
            mask |= hull_mask(px, w, h, margin)
    return mask


def mask_crops(mask: np.ndarray, max_bands: int, pad: int, block: int = 8) -> list[Rect]:
    """Rectangles covering every True pixel of ``mask`` at the least rendered area: the rows are cut
    into at most ``max_bands`` horizontal bands (on ``block``-row steps, by dynamic programming), and
    a band into several rectangles where its columns have a gap wider than ``2 * pad``. Each
    rectangle's cost is its area grown by ``pad`` (what is rendered)."""
    h, w = mask.shape
    nb = -(-h // block)
    rows = [mask[i * block:(i + 1) * block] for i in range(nb)]

    def band(i: int, j: int) -> tuple[int, list[Rect]]:
        sub = np.concatenate(rows[i:j + 1])
        ys = np.flatnonzero(sub.any(axis=1))
        if ys.size == 0:
            return 0, []
        cols = np.flatnonzero(sub.any(axis=0))
        cuts = np.flatnonzero(np.diff(cols) > 2 * pad + 1)
        rects, cost = [], 0
        for seg in np.split(cols, cuts + 1):
            part = sub[:, seg[0]:seg[-1] + 1].any(axis=1)
            py = np.flatnonzero(part)
            r = (int(seg[0]), i * block + int(py[0]), int(seg[-1]) + 1, i * block + int(py[-1]) + 1)
            rects.append(r)
            g = grow(r, pad, w, h)
            cost += (g[2] - g[0]) * (g[3] - g[1])
        return cost, rects

    costs = {(i, j): band(i, j) for i in range(nb) for j in range(i, nb)}
    inf = float("inf")
    # best[k][j]: least cost of rows 0..j-1 (blocks) in at most k bands
    best = [[0.0] + [inf] * nb for _ in range(max_bands + 1)]
    choice: dict[tuple[int, int], int] = {}
    for k in range(1, max_bands + 1):
        for j in range(1, nb + 1):
            for i in range(j):
                c = best[k - 1][i] + costs[(i, j - 1)][0]
                if c < best[k][j]:
                    best[k][j], choice[(k, j)] = c, i
    out: list[Rect] = []
    k, j = max_bands, nb
    while j > 0:
        i = choice[(k, j)]
        out += costs[(i, j - 1)][1]
        k, j = k - 1, i
    return sorted(out)


def crops(a: SceneSpec, b: SceneSpec, vocab: Vocabulary, margin: int = 4, bleed: float = 1.0,
          max_crops: int = 4, pad: int = 16, max_share: float = 1.0) -> list[Rect] | None:
    """The rectangles of B to re-render (pixels outside them are I_a's): :func:`mask_crops` of
    :func:`region_mask`. [] when A and B are the same; None when B must be rendered in full, also
    when the crops would cover more than ``max_share`` of the frame."""
    mask = region_mask(a, b, vocab, margin, bleed)
    if mask is None:
        return None
    rects = mask_crops(mask, max_crops, pad)
    return None if rects_mask(rects, a.width, a.height).mean() > max_share else rects


def grow(rect: Rect, pad: int, width: int, height: int) -> Rect:
    x0, y0, x1, y1 = rect
    return max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)


def rects_mask(rects: Iterable[Rect], width: int, height: int) -> np.ndarray:
    m = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in rects:
        m[y0:y1, x0:x1] = True
    return m


__all__ = ["Rect", "changed_objects", "crops", "grow", "hull_mask", "mask_crops", "object_hulls", "region_mask", "project", "rects_mask",
           "same_but_objects"]
