"""Which Cycles device renders: ``renderer.params.device`` (``auto | cpu | gpu`` or one backend).

:func:`query_devices` asks bpy what it sees (Cycles preferences: ``refresh_devices`` then
``get_devices_for_type`` per backend); :func:`choose_device` is the choice itself, a pure function of
the request and that list (so it is tested on hand-written lists); :func:`apply_device` sets the
preferences and ``scene.cycles.device``. With several GPUs each worker takes one (``gpus_per_worker:
1``) by holding an exclusive lock file per GPU (:func:`claim_gpu`), so workers spread over the GPUs
whatever the executor; the generate driver starts one worker per GPU (:func:`worker_hint`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

from dig_core.errors import DigError

#: Cycles GPU backends, fastest first: ``auto`` and ``gpu`` take the first one with a device
GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")
REQUESTS = ("auto", "cpu", "gpu", *(b.lower() for b in GPU_BACKENDS))


class DeviceError(DigError):
    """A requested Cycles GPU backend or device that bpy does not offer on this machine."""


@dataclass(frozen=True)
class GpuDevice:
    backend: str  # OPTIX, CUDA, ...
    name: str  # e.g. "NVIDIA H100 80GB HBM3"
    id: str  # Cycles' persistent device id


@dataclass(frozen=True)
class DeviceChoice:
    backend: str  # "CPU" or one of GPU_BACKENDS
    devices: tuple[GpuDevice, ...] = ()  # every device of that backend (empty for CPU)

    @property
    def is_gpu(self) -> bool:
        return self.backend != "CPU"

    def label(self) -> str:
        """Short text for progress lines: ``CPU`` or ``OPTIX: 2x NVIDIA H100``."""
        if not self.is_gpu:
            return "CPU"
        names = sorted({d.name for d in self.devices})
        counts = [f"{sum(d.name == n for d in self.devices)}x {n}" for n in names]
        return f"{self.backend}: " + ", ".join(counts)


@dataclass(frozen=True)
class DeviceReport:
    """What bpy reported: GPU devices per backend, the backends Cycles was built with, the CPU."""

    found: dict[str, tuple[GpuDevice, ...]]
    compiled: tuple[str, ...]
    cpu: str = ""


def choose_device(request: str, report: DeviceReport) -> DeviceChoice:
    """The device for ``request`` given what bpy reported.

    ``cpu``: the CPU. ``auto``: the first backend of :data:`GPU_BACKENDS` with a device, else the CPU.
    ``gpu``: like auto but no CPU fallback. A backend name (``optix``, ``cuda``, ...): that backend.
    A GPU request that cannot be met raises :class:`DeviceError` saying what bpy found and how to fix it.
    """
    req = request.lower()
    if req not in REQUESTS:
        raise DeviceError(f"renderer.params.device: unknown value {request!r}; allowed: {', '.join(REQUESTS)}")
    if req == "cpu":
        return DeviceChoice("CPU")
    wanted = GPU_BACKENDS if req in ("auto", "gpu") else (req.upper(),)
    for backend in wanted:
        devices = report.found.get(backend, ())
        if devices:
            return DeviceChoice(backend, tuple(devices))
    if req == "auto":
        return DeviceChoice("CPU")
    raise DeviceError(f"renderer.params.device: {request!r} asks for a GPU but " + describe(report) + ". " + _FIX)


_FIX = ("Fix: make the GPU visible to this process (NVIDIA: a driver providing libcuda.so, check "
        "`nvidia-smi` and CUDA_VISIBLE_DEVICES; AMD: ROCm/HIP runtime; Intel: Level Zero), or set "
        "renderer.params.device: auto (GPU if present, else CPU) or cpu")


def describe(report: DeviceReport) -> str:
    found = "; ".join(f"{b}: {', '.join(d.name for d in devs)}" for b, devs in report.found.items() if devs)
    compiled = ", ".join(report.compiled) or "none"
    cpu = f" (CPU: {report.cpu})" if report.cpu else ""
    return (f"bpy's Cycles found {'GPU devices ' + found if found else 'no GPU device'}{cpu}; "
            f"GPU backends this Blender build offers: {compiled}")


def cycles_preferences(bpy: Any) -> Any:
    addon = bpy.context.preferences.addons.get("cycles")
    if addon is None:
        raise DeviceError("bpy has no 'cycles' add-on enabled, so no render device can be chosen")
    return addon.preferences


def query_devices(bpy: Any) -> DeviceReport:
    """Ask bpy's Cycles preferences for the devices of every GPU backend (``refresh_devices``)."""
    prefs = cycles_preferences(bpy)
    compiled = tuple(item[0] for item in prefs.get_device_types(bpy.context) if item[0] in GPU_BACKENDS)
    prefs.refresh_devices()
    found: dict[str, tuple[GpuDevice, ...]] = {}
    cpu = ""
    for backend in GPU_BACKENDS:
        entries = prefs.get_devices_for_type(backend) if backend in compiled else []
        found[backend] = tuple(GpuDevice(backend, e.name, e.id) for e in entries if e.type == backend)
    for e in prefs.devices:
        if e.type == "CPU":
            cpu = e.name
    return DeviceReport(found, compiled, cpu)


def apply_device(bpy: Any, scene: Any, choice: DeviceChoice, use: tuple[GpuDevice, ...] = ()) -> None:
    """Render ``scene`` on ``choice``: the CPU, or the GPUs ``use`` (default all of the backend's)."""
    if not choice.is_gpu:
        scene.cycles.device = "CPU"
        return
    use = use or choice.devices
    prefs = cycles_preferences(bpy)
    prefs.compute_device_type = choice.backend
    ids = {d.id for d in use}
    for entry in prefs.devices:  # CPU entries off: the GPU alone renders
        entry.use = entry.type == choice.backend and entry.id in ids
    scene.cycles.device = "GPU"


def _lock_name(device: GpuDevice) -> str:
    return "dig-gpu-" + re.sub(r"[^A-Za-z0-9_.-]", "_", f"{device.backend}-{device.id}") + ".lock"


def claim_gpu(devices: tuple[GpuDevice, ...], lock_dir: str | None = None) -> tuple[GpuDevice, Any]:
    """One of ``devices`` for this worker: the first whose lock file no other live renderer holds
    (an exclusive ``flock``, released when the returned handle is closed or the process ends). When
    every GPU is taken (more workers than GPUs) the GPUs are shared round-robin by process id."""
    lock_dir = lock_dir or tempfile.gettempdir()
    for device in devices:
        f = open(os.path.join(lock_dir, _lock_name(device)), "a")  # noqa: SIM115 - held while rendering
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        return device, f
    return devices[os.getpid() % len(devices)], None


def release(handle: Any) -> None:
    if handle is not None:
        with contextlib.suppress(OSError):
            handle.close()


def worker_hint(choice: DeviceChoice, gpus_per_worker: int) -> int:
    """Workers the generate driver should start when ``generate.workers`` is 0: one per GPU
    (``gpus_per_worker: 1``) or a single worker using every GPU (``0``); 0 on the CPU (= decide from
    the CPU count)."""
    if not choice.is_gpu:
        return 0
    return len(choice.devices) if gpus_per_worker == 1 else 1


__all__ = ["GPU_BACKENDS", "REQUESTS", "DeviceChoice", "DeviceError", "DeviceReport", "GpuDevice",
           "apply_device", "choose_device", "claim_gpu", "describe", "query_devices", "release", "worker_hint"]
