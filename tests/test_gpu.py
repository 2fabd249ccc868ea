"""Ready for a GPU, checked with the device list mocked: memory growth and what `machine()`
records (the precision `auto` picks is in test_precision.py)."""

from fashion_tuning import environment

DETAILS = {"GPU:0": {"device_name": "NVIDIA H200", "compute_capability": (9, 0)},
           "GPU:1": {"device_name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0)}}


def fake_gpus(monkeypatch, devices, smi):
    monkeypatch.setattr(environment.tf.config, "list_physical_devices",
                        lambda kind=None: list(devices))
    monkeypatch.setattr(environment.tf.config.experimental, "get_device_details",
                        lambda device: DETAILS[device])
    monkeypatch.setattr(environment.system, "nvidia_gpus", lambda: smi)


def test_memory_growth_is_turned_on_for_every_gpu(monkeypatch):
    fake_gpus(monkeypatch, DETAILS, [])
    grown = []
    monkeypatch.setattr(environment.tf.config.experimental, "set_memory_growth",
                        lambda device, enable: grown.append((device, enable)))
    environment.grow_gpu_memory()
    assert grown == [("GPU:0", True), ("GPU:1", True)]


def test_machine_records_each_gpus_name_capability_and_memory(monkeypatch):
    fake_gpus(monkeypatch, DETAILS, [{"id": "0", "name": "NVIDIA H200", "memory_mb": 143771},
                                     {"id": "1", "name": "NVIDIA A100", "memory_mb": 40960}])
    assert environment.machine()["gpus"] == [
        {"name": "NVIDIA H200", "compute_capability": "9.0", "memory_mb": 143771},
        {"name": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0", "memory_mb": 40960}]


def test_gpu_memory_is_null_where_nvidia_smi_sees_other_gpus_or_none(monkeypatch):
    fake_gpus(monkeypatch, ["GPU:0"], [])
    assert environment.machine()["gpus"] == [
        {"name": "NVIDIA H200", "compute_capability": "9.0", "memory_mb": None}]
    fake_gpus(monkeypatch, [], [])
    assert environment.machine()["gpus"] == []
