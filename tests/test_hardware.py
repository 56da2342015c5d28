"""humanparse.hardware: the CPU's bf16 support is read from the CPU, and bf16 on a CPU without it warns once."""

import logging

import pytest
import torch

from humanparse import hardware
from humanparse.inference.runtimes.torch_runtime import model_forward


@pytest.fixture
def fresh(monkeypatch):
    """A process that has not warned yet, with the cached detection cleared before and after."""
    detect = hardware.cpu_bf16_support  # the cached function, before a test replaces it
    monkeypatch.setattr(hardware, "_warned", False)
    detect.cache_clear()
    yield
    detect.cache_clear()


def test_cpu_flags_read_x86_and_arm_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n\nflags\t\t: other\n")
    assert hardware.cpu_flags(str(x86)) == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16"}
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    assert "bf16" in hardware.cpu_flags(str(arm))
    assert hardware.cpu_flags(str(tmp_path / "absent")) is None


@pytest.mark.parametrize(
    "flags, native",
    [
        (frozenset({"avx2", "fma"}), False),  # AVX2-only (e.g. Zen 3)
        (frozenset({"avx512f", "avx512_bf16"}), True),  # Cooper Lake, Zen 4
        (frozenset({"avx512f", "amx_bf16", "amx_tile"}), True),  # Sapphire Rapids
        (None, None),  # flags unreadable: cannot tell
    ],
)
def test_cpu_bf16_support_follows_the_flags(fresh, monkeypatch, flags, native):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    found, note = hardware.cpu_bf16_support()
    assert found is native
    assert (hardware.SLOW_BF16_WARNING in note) == (native is False)


def test_cpu_bf16_support_on_this_machine_matches_proc_cpuinfo(fresh):
    flags = hardware.cpu_flags()
    native, _ = hardware.cpu_bf16_support()
    assert native == (None if flags is None else bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}))


def test_slow_bf16_warns_once_per_process_and_only_for_bf16_on_a_cpu(fresh, monkeypatch, caplog):
    monkeypatch.setattr(hardware, "cpu_bf16_support", lambda: (False, "no bf16"))
    with caplog.at_level(logging.WARNING, logger="humanparse.hardware"):
        assert not hardware.warn_if_slow_bf16("cpu", "fp32")
        assert not hardware.warn_if_slow_bf16("cuda", "bf16")
        assert hardware.warn_if_slow_bf16("cpu", "bf16")
        assert not hardware.warn_if_slow_bf16("cpu", "bf16")
    assert [record.getMessage() for record in caplog.records] == [hardware.SLOW_BF16_WARNING]


@pytest.mark.parametrize("native", [True, None])
def test_no_warning_with_native_or_unknown_bf16(fresh, monkeypatch, caplog, native):
    monkeypatch.setattr(hardware, "cpu_bf16_support", lambda: (native, ""))
    with caplog.at_level(logging.WARNING, logger="humanparse.hardware"):
        assert not hardware.warn_if_slow_bf16(torch.device("cpu"), "bf16")
    assert caplog.records == []


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)

    def forward(self, images):
        return {"seg": self.conv(images)}


@pytest.mark.parametrize(
    "native, precision, warned", [(False, "bf16", True), (True, "bf16", False), (False, "fp32", False)]
)
def test_model_forward_warns_where_bf16_is_applied(fresh, monkeypatch, caplog, native, precision, warned):
    monkeypatch.setattr(hardware, "cpu_bf16_support", lambda: (native, ""))
    forward = model_forward(_Tiny().eval(), precision=precision)
    with caplog.at_level(logging.WARNING, logger="humanparse.hardware"):
        logits = forward(torch.randn(1, 3, 8, 8))
    assert logits.dtype == torch.float32 and logits.shape == (1, 4, 8, 8)
    assert (hardware.SLOW_BF16_WARNING in caplog.text) == warned
