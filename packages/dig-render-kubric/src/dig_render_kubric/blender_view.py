"""Kubric's Blender renderer on Blender 4.5 / 5.0: :class:`ModernBlender`, a subclass of
``kubric.renderer.blender.Blender`` that overrides what the 2.93-era code gets wrong on new Blender.

Import this module only after :func:`dig_render_kubric.loader.load_kubric` (it subclasses Kubric's
class at import time). What is overridden, and why:

- ``__init__``: Kubric builds a compositor graph for a multilayer EXR (``scene.node_tree``, gone in
  5.0; ``CompositorNodeSepRGBA`` and ``file_slots``, gone too) and turns on flow/UV/normal/object
  coordinate passes. Here no compositor is used; only what segmentation needs is set up: Kubric's
  ``AuxOutputs`` view layer at 1 sample per pixel (no anti-aliasing) with the Cryptomatte object
  pass. Everything else (world shading, scene observers) is Kubric's own code.
- ``add_asset`` for :class:`kubric.PrincipledBSDFMaterial`: Principled BSDF inputs were renamed in
  4.0 (``Specular`` -> ``Specular IOR Level``, ``Transmission`` -> ``Transmission Weight``,
  ``Emission`` -> ``Emission Color``; ``Transmission Roughness`` removed; ``Specular Tint`` became a
  color). Other assets (cube, sphere, lights, cameras) go to Kubric's own handlers.
- ``add_asset`` for :class:`kubric.FileBasedObject` (OBJ only): ``bpy.ops.import_scene.obj`` became
  ``bpy.ops.wm.obj_import``; ``Mesh.use_auto_smooth`` is gone (custom normals apply without it).
- ``render``: one ``bpy.ops.render.render`` and ``Image.save_render`` of every view layer into an
  uncompressed 32-bit multilayer EXR (read by dig-render-blender's reader, not OpenEXR), turned into
  Kubric's layer dict (``linear_rgba``, ``segmentation_indices``, ``segmentation_alphas``) and then
  through Kubric's own post-processors (``process_segementation`` maps Cryptomatte hashes to asset
  indices).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from dig_render_blender.cycles import import_bpy, linear_to_srgb8
from dig_render_blender.exr import read_exr
from kubric import core
from kubric.renderer import blender_utils
from kubric.renderer.blender import AttributeSetter, Blender, KeyframeSetter, register_object3d_setters

from dig_render_kubric.loader import quiet_fd

bpy = import_bpy()

AUX_LAYER = "AuxOutputs"  # Kubric's name for its 1-sample view layer


def _principled_inputs(node: Any) -> dict[str, tuple[str, Any]]:
    """Kubric material trait -> (BSDF input name on this Blender, value converter)."""
    def name(*candidates: str) -> str | None:
        return next((c for c in candidates if node.inputs.get(c) is not None), None)

    out: dict[str, tuple[str, Any]] = {}
    for trait, candidates in (("color", ("Base Color",)), ("roughness", ("Roughness",)), ("metallic", ("Metallic",)),
                              ("ior", ("IOR",)), ("specular", ("Specular IOR Level", "Specular")),
                              ("transmission", ("Transmission Weight", "Transmission")),
                              ("transmission_roughness", ("Transmission Roughness",)),
                              ("emission", ("Emission Color", "Emission"))):
        found = name(*candidates)
        if found is not None:
            out[trait] = (found, None)
    tint = node.inputs.get("Specular Tint")
    if tint is not None:
        if tint.type == "RGBA":  # 4.x: a color. Kubric's float (a mix toward the base color) has no
            # equivalent here; DiG never tints, so it is kept untinted (white), Kubric's default of 0
            out["specular_tint"] = ("Specular Tint", lambda t: (1.0, 1.0, 1.0, 1.0))
        else:
            out["specular_tint"] = ("Specular Tint", None)
    return out


class ModernBlender(Blender):
    """Kubric's Blender view on bpy 4.5 / 5.0 (CPU Cycles), rendering RGB + Cryptomatte instances."""

    def __init__(self, scene: Any, scratch_dir: str, samples: int = 16, use_denoising: bool = True,
                 quiet: bool = True):
        # same steps as Kubric's __init__, minus the compositor and the unused passes
        self.scratch_dir = scratch_dir
        self.ambient_node = self.ambient_hdri_node = self.illum_mapping_node = None
        self.bg_node = self.bg_hdri_node = self.bg_mapping_node = None
        self.verbose = not quiet
        self.quiet = quiet
        with quiet_fd(sys.stdout, quiet):
            self.clear_and_reset_blender_scene(self.verbose)
        self.blender_scene = bpy.context.scene
        self.blender_scene.render.engine = "CYCLES"
        self.blender_scene.cycles.device = "CPU"
        self._activate_segmentation()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # World.use_nodes, deprecated in 5.0
            self._setup_scene_shading()  # Kubric's world: ambient + background colors
        self.adaptive_sampling = False
        self.use_denoising = use_denoising
        self.samples_per_pixel = samples
        self.background_transparency = False
        self.exr_output_node = None
        self.post_processors = {"segmentation": blender_utils.process_segementation,
                                "rgba": blender_utils.process_rgba}
        bs = self.blender_scene
        core.View.__init__(self, scene, scene_observers={
            "frame_start": [AttributeSetter(bs, "frame_start")],
            "frame_end": [AttributeSetter(bs, "frame_end")],
            "frame_rate": [AttributeSetter(bs.render, "fps")],
            "resolution": [AttributeSetter(bs.render, "resolution_x", converter=lambda x: x[0]),
                           AttributeSetter(bs.render, "resolution_y", converter=lambda x: x[1])],
            "camera": [AttributeSetter(bs, "camera", converter=self._convert_to_blender_object)],
            "ambient_illumination": [lambda change: self._set_ambient_light_color(change.new)],
            "background": [lambda change: self._set_background_color(change.new)],
        })

    def _activate_segmentation(self) -> None:
        """Kubric's aux view layer, segmentation only: 1 sample (the pixel's first camera ray),
        no denoising, Cryptomatte object pass of depth 2 (Kubric's setting)."""
        aux = self.blender_scene.view_layers.new(AUX_LAYER)
        aux.samples = 1
        aux.use_pass_z = False
        aux.cycles.use_denoising = False
        aux.use_pass_cryptomatte_object = True
        aux.pass_cryptomatte_depth = 2
        # the aux layer's shading is never looked at: a plain material keeps its one sample cheap
        override = bpy.data.materials.new("KubricSegmentationOverride")
        aux.material_override = override

    # -- assets ------------------------------------------------------------------------------------
    def add_asset(self, asset: Any) -> Any:
        if isinstance(asset, core.PrincipledBSDFMaterial):
            return self._add_principled(asset)
        if isinstance(asset, core.FileBasedObject):
            return self._add_file_object(asset)
        return super().add_asset(asset)

    @blender_utils.prepare_blender_object
    def _add_principled(self, obj: Any) -> Any:
        mat = bpy.data.materials.new(obj.uid)
        if mat.node_tree is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # use_nodes is deprecated in 5.0
                mat.use_nodes = True
        bsdf = next(n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
        for trait, (input_name, converter) in _principled_inputs(bsdf).items():
            sock = bsdf.inputs[input_name]
            obj.observe(AttributeSetter(sock, "default_value", converter=converter), trait)
            obj.observe(KeyframeSetter(sock, "default_value"), trait, type="keyframe")
        return mat

    @blender_utils.prepare_blender_object
    def _add_file_object(self, obj: Any) -> Any:
        path = Path(obj.render_filename)
        if path.suffix.lower() != ".obj":
            raise ValueError(f"{obj.uid}: only .obj render files are supported here, got {path}")
        before = set(bpy.data.objects)
        with quiet_fd(sys.stdout, self.quiet), contextlib.redirect_stdout(io.StringIO()):
            bpy.ops.wm.obj_import(filepath=str(path), **obj.render_import_kwargs)
        new = [o for o in bpy.data.objects if o not in before]
        if len(new) != 1:
            raise RuntimeError(f"{obj.uid}: importing {path} made {len(new)} objects, expected 1")
        blender_obj = new[0]
        register_object3d_setters(obj, blender_obj)
        obj.observe(AttributeSetter(blender_obj, "active_material", converter=self._convert_to_blender_object),
                    "material")
        obj.observe(AttributeSetter(blender_obj, "scale"), "scale")
        obj.observe(KeyframeSetter(blender_obj, "scale"), "scale", type="keyframe")
        return blender_obj

    # -- rendering ---------------------------------------------------------------------------------
    def set_exr_output_path(self, path_prefix: Any) -> None:
        """No compositor file-output node here: :meth:`render` saves the render result itself."""

    def render_layers(self, path: str) -> dict[str, np.ndarray]:
        """Render the current frame; return Kubric's EXR layer dict (``linear_rgba`` of the main
        layer, Cryptomatte ``segmentation_indices`` / ``segmentation_alphas`` of the aux layer)."""
        sc = self.blender_scene
        im = sc.render.image_settings
        if hasattr(im, "media_type"):  # Blender 5.0: multilayer EXR is a media type
            im.media_type = "MULTI_LAYER_IMAGE"
        im.file_format = "OPEN_EXR_MULTILAYER"
        im.color_depth = "32"  # Cryptomatte hashes are float bit patterns: keep all 32 bits
        im.exr_codec = "NONE"
        self.render_only()
        bpy.data.images["Render Result"].save_render(path, scene=sc)
        try:
            return exr_layers(read_exr(path), sc.view_layers[0].name)
        finally:
            # one EXR per render: keep the temp folder (RAM under /dev/shm) at the mesh files' size
            os.remove(path)

    def render_only(self) -> None:
        """Run Cycles on the current frame (every view layer), no readback."""
        with quiet_fd(sys.stdout, self.quiet):
            bpy.ops.render.render(animation=False, write_still=False)

    def render(self, frames: Any = None, ignore_missing_textures: bool = False,
               return_layers: Any = ("rgba", "segmentation")) -> dict[str, np.ndarray]:
        """Kubric's ``render`` contract for the current frame: layer name -> array with a leading
        frame axis. ``rgba`` is sRGB uint8 (linear -> sRGB, Blender's "Standard" view transform)."""
        if not ignore_missing_textures:
            self._check_missing_textures()
        path = os.path.join(str(self.scratch_dir), "render.exr")
        layers = self.render_layers(path)
        self.last_hashes = layers["segmentation_indices"][..., 0]  # rank 0 Cryptomatte hash per pixel
        rgb = linear_to_srgb8(layers["linear_rgba"][..., :3])
        alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
        layers["rgba"] = np.concatenate([rgb, alpha], axis=-1)
        return {k: self.post_processors[k](layers, self.scene)[None] for k in return_layers}


def exr_layers(chans: dict[str, np.ndarray], main_layer: str) -> dict[str, np.ndarray]:
    """Blender's channel names (``<view layer>.<pass>.<channel>``) -> Kubric's layer dict."""
    out: dict[str, np.ndarray] = {}
    try:
        out["linear_rgba"] = np.stack([chans[f"{main_layer}.Combined.{c}"] for c in "RGBA"], axis=-1)
    except KeyError:
        raise RuntimeError(f"no Combined pass of view layer {main_layer!r}; channels: {sorted(chans)}") from None
    crypto = sorted({k.rsplit(".", 1)[0] for k in chans if k.startswith(f"{AUX_LAYER}.CryptoObject")})
    if not crypto:
        raise RuntimeError(f"no Cryptomatte pass of view layer {AUX_LAYER!r}; channels: {sorted(chans)}")
    def chan(layer: str, c: str) -> np.ndarray:  # 4.5 writes R G B A, 5.0 r g b a
        return chans[f"{layer}.{c}"] if f"{layer}.{c}" in chans else chans[f"{layer}.{c.lower()}"]

    # each CryptoObjectNN holds two ranks: (hash, coverage) in (R, G) and (B, A); hashes are uint32 bits
    idx = np.stack([chan(n, c) for n in crypto for c in "RB"], axis=-1)
    if idx.dtype != np.float32:
        raise RuntimeError(f"Cryptomatte channels were saved as {idx.dtype}, need 32-bit float")
    out["segmentation_indices"] = np.ascontiguousarray(idx).view(np.uint32)
    out["segmentation_alphas"] = np.stack([chan(n, c) for n in crypto for c in "GA"], axis=-1)
    return out


__all__ = ["AUX_LAYER", "ModernBlender", "exr_layers"]
