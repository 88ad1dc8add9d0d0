"""Device selection: the choice on hand-written device lists, the real bpy query on this machine, the
clear error for an absent GPU, per-worker GPU claims, and CPU vs GPU instance maps where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest
from dig_core.config import plugin_params
from dig_render_blender.devices import (
    DeviceChoice,
    DeviceError,
    DeviceReport,
    GpuDevice,
    choose_device,
    claim_gpu,
    release,
    worker_hint,
)

H100 = GpuDevice("CUDA", "NVIDIA H100 80GB HBM3", "CUDA_NVIDIA H100_0000:01:00")
H100_OPTIX = GpuDevice("OPTIX", "NVIDIA H100 80GB HBM3", "CUDA_NVIDIA H100_0000:01:00_OptiX")
MI300 = GpuDevice("HIP", "AMD Instinct MI300X", "HIP_AMD_0000:02:00")


def report(*devices: GpuDevice, compiled=("CUDA", "OPTIX", "HIP", "ONEAPI")) -> DeviceReport:
    found = {b: tuple(d for d in devices if d.backend == b) for b in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")}
    return DeviceReport(found, tuple(compiled), "Intel Xeon Processor")


def test_auto_takes_optix_before_cuda_before_hip():
    assert choose_device("auto", report(H100, H100_OPTIX, MI300)) == DeviceChoice("OPTIX", (H100_OPTIX,))
    assert choose_device("auto", report(H100, MI300)) == DeviceChoice("CUDA", (H100,))
    assert choose_device("gpu", report(MI300)) == DeviceChoice("HIP", (MI300,))


def test_auto_without_a_gpu_is_the_cpu_and_cpu_ignores_gpus():
    assert choose_device("auto", report()) == DeviceChoice("CPU")
    assert choose_device("cpu", report(H100_OPTIX)) == DeviceChoice("CPU")
    assert choose_device("CPU", report()).label() == "CPU"


def test_a_named_backend_is_that_backend_only():
    assert choose_device("cuda", report(H100, H100_OPTIX)) == DeviceChoice("CUDA", (H100,))
    with pytest.raises(DeviceError, match="'hip' asks for a GPU"):
        choose_device("hip", report(H100, H100_OPTIX))


def test_gpu_without_a_gpu_is_a_clear_error_naming_what_bpy_found():
    with pytest.raises(DeviceError) as e:
        choose_device("gpu", report(compiled=("CUDA", "OPTIX")))
    msg = str(e.value)
    assert "renderer.params.device" in msg and "no GPU device" in msg and "Intel Xeon Processor" in msg
    assert "CUDA, OPTIX" in msg  # the backends this build offers
    assert "nvidia-smi" in msg and "device: auto" in msg and "cpu" in msg  # how to fix it


def test_unknown_request_names_the_allowed_values():
    with pytest.raises(DeviceError, match="allowed: auto, cpu, gpu, optix, cuda"):
        choose_device("tpu", report())


def test_label_and_worker_count_per_gpu():
    two = (H100_OPTIX, GpuDevice("OPTIX", H100_OPTIX.name, "second"), GpuDevice("OPTIX", "NVIDIA A100", "third"))
    choice = DeviceChoice("OPTIX", two)
    assert choice.label() == "OPTIX: 1x NVIDIA A100, 2x NVIDIA H100 80GB HBM3"
    assert worker_hint(choice, 1) == 3  # one worker per GPU
    assert worker_hint(choice, 0) == 1  # one worker using every GPU
    assert worker_hint(DeviceChoice("CPU"), 1) == 0  # CPU: generate decides from the CPU count


def test_generate_starts_one_worker_per_gpu_unless_told():
    import os

    from dig_core.config import DigConfig
    from dig_core.generate import split_workers
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(DigConfig)
    cpus = os.cpu_count() or 1
    assert split_workers(cfg, 4) == (4, max(1, cpus // 4))  # the renderer's wish (4 GPUs)
    assert split_workers(cfg, 0) == (max(1, cpus // 2), max(1, cpus // max(1, cpus // 2)))  # CPU rule
    cfg.generate.workers = 2
    assert split_workers(cfg, 4)[0] == 2  # generate.workers wins


def test_each_worker_claims_its_own_gpu(tmp_path):
    gpus = (GpuDevice("CUDA", "gpu", "0"), GpuDevice("CUDA", "gpu", "1"))
    first, h1 = claim_gpu(gpus, str(tmp_path))
    second, h2 = claim_gpu(gpus, str(tmp_path))  # a second lock holder (another worker)
    assert {first.id, second.id} == {"0", "1"} and h1 is not None and h2 is not None
    third, h3 = claim_gpu(gpus, str(tmp_path))  # more workers than GPUs: shared, no lock
    assert third in gpus and h3 is None
    release(h1)
    again, h4 = claim_gpu(gpus, str(tmp_path))  # a finished worker's GPU is free again
    assert again == first
    release(h2)
    release(h4)


def test_device_params_are_validated():
    from dig_render_blender.renderer import BlenderRenderer

    errors: list[str] = []
    plugin_params(BlenderRenderer, {"device": "tpu", "gpus_per_worker": 2, "rerender": "some"}, "renderer.params",
                  errors)
    joined = "\n".join(errors)
    assert "device must be one of auto, cpu, gpu" in joined and "'tpu'" in joined
    assert "gpus_per_worker must be 1" in joined and "rerender must be full or region" in joined


# -- the real bpy query -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bpy_report():
    pytest.importorskip("bpy", reason="bpy (Blender as a Python module) is not installed")
    from dig_render_blender.cycles import import_bpy
    from dig_render_blender.devices import query_devices

    return query_devices(import_bpy())


def test_real_query_reports_the_cpu_and_auto_follows_it(bpy_report):
    assert bpy_report.cpu  # bpy always lists the CPU
    assert set(bpy_report.compiled) <= {"OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"}
    gpus = [d for devs in bpy_report.found.values() for d in devs]
    choice = choose_device("auto", bpy_report)
    assert choice.is_gpu == bool(gpus)  # here (no GPU): the CPU


def test_gpu_request_on_a_machine_without_gpu_fails_before_rendering(bpy_report):
    if any(bpy_report.found.values()):
        pytest.skip("this machine has a GPU")
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    from tests.render_blender.scenes import VOCAB, base_scene

    r = BlenderRenderer(BlenderConfig(device="gpu", samples=1))
    r.setup(VOCAB, 2)
    with pytest.raises(DeviceError, match="no GPU device.*Fix:"):
        r.worker_plan()  # what dig generate asks before starting workers
    for _ in range(2):  # never a silent CPU fallback, also when asked again
        with pytest.raises(DeviceError, match="asks for a GPU"):
            r.render(base_scene(32, 24))
        assert r._scene is None  # nothing was built
    r.close()


def test_auto_renders_on_what_it_chose_and_says_so(bpy_report):
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    from tests.render_blender.scenes import VOCAB, base_scene

    r = BlenderRenderer(BlenderConfig(samples=1, denoise=False))
    r.setup(VOCAB, 2)
    r.render(base_scene(32, 24))
    info = r.info()
    choice = choose_device("auto", bpy_report)
    assert info["backend"] == choice.backend and info["gpus"] == [d.name for d in choice.devices]
    assert r._scene.cycles.device == ("GPU" if choice.is_gpu else "CPU")
    assert r.worker_plan() == (worker_hint(choice, 1), choice.label())
    r.close()


@pytest.mark.render
def test_instance_maps_are_the_same_on_gpu_and_cpu(bpy_report):
    """Where a GPU exists: the object-index pass gives the same labels on both devices."""
    if not any(bpy_report.found.values()):
        pytest.skip("no GPU on this machine (bpy found none)")
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    from tests.render_blender.scenes import VOCAB, base_scene

    maps = {}
    for device in ("cpu", "gpu"):
        r = BlenderRenderer(BlenderConfig(device=device, samples=4))
        r.setup(VOCAB, 2)
        maps[device] = r.render(base_scene(96, 64)).instances
        r.close()
    assert np.array_equal(maps["cpu"], maps["gpu"])
