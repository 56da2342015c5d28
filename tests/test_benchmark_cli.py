"""`humanparse benchmark` and humanparse.inference.timing: our own networks' latency, as a plain table."""

import pytest

from humanparse import hardware
from humanparse.cli import main
from humanparse.inference.timing import Timing, format_timings, time_inference

HEADER = ["config", "device", "precision", "input", "batch", "median", "ms", "images/s", "peak", "MiB"]


def _rows(output: str):
    lines = output.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("config "))
    return lines[start].split(), [line.split() for line in lines[start + 1 :]]


def test_benchmark_prints_a_table_of_our_model(capsys):
    argv = [
        "benchmark",
        "ce2p_tiny_synthetic",
        "--input-size",
        "65",
        "65",
        "--batch-size",
        "2",
        "--repeats",
        "2",
        "--warmup",
        "0",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    header, rows = _rows(out)
    assert header == HEADER and len(rows) == 1
    config, device, precision, size, batch, median_ms, images_per_s, peak = rows[0]
    assert (config, device, precision, size, batch) == ("ce2p_tiny_synthetic", "cpu", "fp32", "65x65", "2")
    assert float(median_ms) > 0 and float(peak) > 0
    assert float(images_per_s) == pytest.approx(2 / (float(median_ms) / 1000), rel=0.05)
    assert "PASS" not in out and "MISS" not in out


def test_benchmark_bf16_says_when_the_cpu_lacks_native_bf16(monkeypatch, capsys):
    monkeypatch.setattr(hardware, "_warned", False)
    monkeypatch.setattr(hardware, "cpu_bf16_support", lambda: (False, hardware.SLOW_BF16_WARNING))
    argv = ["benchmark", "ce2p_tiny_synthetic", "--input-size", "65", "65", "--repeats", "1", "--warmup", "0"]
    assert main(argv + ["--precision", "bf16"]) == 0
    out = capsys.readouterr().out
    assert hardware.SLOW_BF16_WARNING in out
    assert _rows(out)[1][0][2] == "bf16"
    monkeypatch.setattr(hardware, "cpu_bf16_support", lambda: (True, "CPU has native bf16 (amx_bf16)"))
    assert main(argv + ["--precision", "bf16"]) == 0
    assert hardware.SLOW_BF16_WARNING not in capsys.readouterr().out


def test_benchmark_says_which_kernels_were_chosen_and_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HUMANPARSE_CACHE", str(tmp_path))
    monkeypatch.delenv("HUMANPARSE_KERNELS", raising=False)
    argv = ["benchmark", "ce2p_tiny_synthetic", "--input-size", "65", "65", "--repeats", "1", "--warmup", "0"]
    assert main(argv + ["--kernels", "onednn"]) == 0
    assert (
        "ce2p_tiny_synthetic: kernels: channels_last, oneDNN only (forced: forced by --kernels=onednn)"
        in (capsys.readouterr().out)
    )
    assert main(argv) == 0  # PyTorch's kernels timed, then OpenVINO's compiled network against them
    assert "(measured: " in capsys.readouterr().out
    assert main(argv) == 0  # the second run reads the first one's choice
    assert "(cache: " in capsys.readouterr().out


def test_default_input_size_is_the_recipes():
    from humanparse.configs import get_config

    timing = time_inference("ce2p_tiny_synthetic", repeats=1, warmup=0)
    assert timing.input_size == tuple(get_config("ce2p_tiny_synthetic").model.input_size)
    assert timing.median_ms > 0 and timing.images_per_s == pytest.approx(1000 / timing.median_ms)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--input-size", "0", "65"], "--input-size must be at least 1"),
    ],
)
def test_bad_options_are_clean_errors(capsys, extra, message):
    assert main(["benchmark", "ce2p_tiny_synthetic", "--input-size", "65", "65", *extra]) == 2
    assert message in capsys.readouterr().err


def test_device_has_the_same_choices_as_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["benchmark", "ce2p_tiny_synthetic", "--device", "quantum"])
    assert "invalid choice: 'quantum' (choose from cpu, cuda)" in capsys.readouterr().err.replace(
        "'cpu'", "cpu"
    ).replace("'cuda'", "cuda")


def test_old_spellings_work_with_a_deprecation_note(capsys):
    argv = [
        "benchmark",
        "ce2p_tiny_synthetic",
        "--size",
        "65",
        "--batch",
        "2",
        "--repeats",
        "1",
        "--warmup",
        "0",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "--size is deprecated" in captured.err and "use --input-size H W" in captured.err
    assert "--batch is deprecated" in captured.err and "use --batch-size" in captured.err
    assert _rows(captured.out)[1][0][3:5] == ["65x65", "2"]


def test_unknown_recipe_is_a_clean_error(capsys):
    assert main(["benchmark", "no_such_recipe", "--input-size", "65", "65"]) == 2
    assert "no_such_recipe" in capsys.readouterr().err


def test_table_columns_are_aligned():
    timings = [
        Timing("ce2p_tiny_synthetic", "cpu", "fp32", (65, 65), 1, 12.345, 300.0),
        Timing("schp_resnet101_lip", "cuda:0", "bf16", (473, 473), 8, 1234.5, None),
    ]
    lines = format_timings(timings).splitlines()
    assert lines[1].split() == ["ce2p_tiny_synthetic", "cpu", "fp32", "65x65", "1", "12.3", "81.00", "300"]
    assert lines[2].split()[-3:] == ["1234.5", "6.48", "n/a"]
    assert len({line.index("precision" if i == 0 else line.split()[2]) for i, line in enumerate(lines)}) == 1
