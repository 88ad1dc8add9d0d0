"""DiG renderer plugin ``blender``: CLEVR-like scenes through headless Blender (bpy), Cycles on CPU."""

__version__ = "0.1.0"

__all__ = ["__version__"]
