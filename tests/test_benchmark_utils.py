"""Unit tests of benchmarks/benchlib (the reference comparison, outside the package): statistics, table, FLOP
count, memory probe, missing references, and SSSegmentation's CE2P against ours.

No timing is asserted: the figures depend on the machine and its load.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from humanparse.errors import ConfigError

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))  # benchlib is not in the package

from benchlib import references  # noqa: E402
from benchlib.inference import Row, benchmark_config, format_table  # noqa: E402
from benchlib.measure import (  # noqa: E402
    Settings,
    argmax_agreement,
    check_settings,
    count_flops,
    median,
    relative_error,
    settings_from_args,
    speedup,
)
from benchlib.memory import measure_peak_memory  # noqa: E402
from benchlib.references import ReferenceUnavailable, build_reference  # noqa: E402


def test_median_and_speedup():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert speedup(ours_seconds=0.5, theirs_seconds=1.0) == 2.0
    with pytest.raises(ValueError):
        median([])
    with pytest.raises(ValueError):
        speedup(0.0, 1.0)


def test_relative_error_and_argmax_agreement():
    reference = torch.tensor([[[[3.0]], [[4.0]]]])  # norm 5, argmax class 1
    assert relative_error(reference + 0.5, reference) == pytest.approx((0.5**2 * 2) ** 0.5 / 5)
    assert relative_error(reference, reference) == 0.0
    flipped = torch.tensor([[[[4.0]], [[3.0]]]])
    assert argmax_agreement(reference, reference) == 1.0
    assert argmax_agreement(flipped, reference) == 0.0


def test_flop_count_of_a_convolution():
    cin, cout, k, h, w = 8, 16, 3, 12, 10
    conv = nn.Conv2d(cin, cout, k, padding=1, bias=False)
    images = torch.randn(1, cin, h, w)
    assert count_flops(lambda: conv(images)) == 2 * cin * cout * k * k * h * w


def test_verdict_speed_memory_and_bf16_accuracy():
    fast = Row("c", "fp32", ours_ms=10.0, theirs_ms=13.0, ours_mib=100.0, theirs_mib=120.0, target=1.2)
    assert fast.speedup == pytest.approx(1.3)
    assert fast.verdict == "PASS"
    assert Row("c", "fp32", ours_ms=10.0, theirs_ms=11.0, target=1.2).verdict == "MISS"
    heavier = Row("c", "fp32", ours_ms=10.0, theirs_ms=13.0, ours_mib=130.0, theirs_mib=120.0, target=1.2)
    assert heavier.verdict == "MISS"
    inaccurate = Row("c", "bf16", ours_ms=1.0, theirs_ms=3.0, relative_error=5e-2, target=2.0)
    assert inaccurate.verdict == "MISS"
    assert Row("c", "bf16", ours_ms=1.0, theirs_ms=3.0, relative_error=1e-2, target=2.0).verdict == "PASS"
    assert Row("c", "fp32", ours_ms=1.0).verdict == "-"


def test_table_formatting():
    rows = [
        Row("ce2p_x", "fp32", "sssegmentation 1.7.0", 100.0, 150.0, 80.0, 0.5, target=1.2),
        Row("schp_x", "fp32", "missing", 90.0, notes=["reference: not installed"]),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].startswith("| config") and "speedup" in lines[0] and "% peak" in lines[0]
    assert "1.50x" in lines[2] and "50%" in lines[2] and "PASS" in lines[2]
    assert "n/a" in lines[3] and lines[3].split("|")[-2].strip() == "-"
    assert lines[-1] == "- schp_x (fp32): reference: not installed"
    assert len({len(line) for line in lines[:4]}) == 1  # aligned columns


def test_memory_probe_in_a_subprocess_is_positive():
    assert measure_peak_memory("conv", size=256, threads=1) > 0


def test_missing_references_raise_reference_unavailable(monkeypatch):
    cpu = torch.device("cpu")
    with pytest.raises(ReferenceUnavailable, match="--csenet-repo"):
        build_reference("csenet_resnet101_lip", cpu, csenet_repo=None)
    with pytest.raises(ReferenceUnavailable, match="not found"):
        build_reference("csenet_resnet101_lip", cpu, csenet_repo="/nonexistent/BSSGNet")
    with pytest.raises(ReferenceUnavailable, match="no reference"):
        build_reference("schp_resnet101_lip", cpu)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ssseg" else real_find_spec(name, *a)
    )
    with pytest.raises(ReferenceUnavailable, match="not installed"):
        build_reference("ce2p_resnet50os16_lip", cpu)


def test_missing_reference_gives_a_not_installed_row(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ssseg" else real_find_spec(name, *a)
    )
    settings = Settings(size=64, repeats=1, warmup=0, memory=False, threads=1)
    row = benchmark_config("ce2p_resnet50os16_lip", settings)
    assert row.reference == "missing" and row.theirs_ms is None and row.verdict == "-"
    assert row.ours_ms > 0 and row.gflops_per_s > 0
    assert "SSSegmentation not installed" in format_table([row])


def test_settings_errors_are_config_errors():
    with pytest.raises(ConfigError, match="precision"):
        check_settings(Settings(precision="int8"))
    with pytest.raises(ConfigError, match="size"):
        check_settings(Settings(size=8))
    with pytest.raises(ConfigError, match="device"):
        check_settings(Settings(device="quantum"))


def test_sssegmentation_reference_matches_ours_on_the_same_weights():
    pytest.importorskip("ssseg", reason="SSSegmentation (the bench extra) is not installed")
    torch.manual_seed(0)
    ours, reference, missing = references.build_pair("ce2p_resnet50os16_lip", torch.device("cpu"), "fp32")
    assert missing == "" and reference is not None
    images = torch.randn(1, 3, 65, 65)
    assert relative_error(ours.forward(images), reference.forward(images)) < 1e-5
    # the run-time placeholders for SSSegmentation's missing import-only packages do not leak
    assert not any(isinstance(module, references._PlaceholderModule) for module in list(sys.modules.values()))


def test_script_options_reach_the_settings():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "inference.py"
    spec = importlib.util.spec_from_file_location("benchmarks_inference_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    args = script.parse_args(["--configs", "ce2p_tiny_synthetic", "--size", "97", "--repeats", "2"])
    settings = settings_from_args(args, precision="bf16", memory=False)
    assert args.configs == ["ce2p_tiny_synthetic"]
    assert (settings.size, settings.precision, settings.repeats, settings.warmup) == (97, "bf16", 2, 2)
    assert not settings.memory and not settings.onnxruntime


def test_tta_cost_verdict_compares_with_the_sum_of_passes():
    from benchlib.tta import TTACost

    cheap = TTACost("ce2p_resnet50os16_lip", (0.75, 1.0, 1.25), True, tta_ms=90.0, passes_ms=100.0)
    assert cheap.verdict == "PASS" and "6 forward passes" in str(cheap) and "ratio 0.90" in str(cheap)
    dear = TTACost("ce2p_resnet50os16_lip", (1.0,), False, tta_ms=120.0, passes_ms=100.0)
    assert dear.verdict == "MISS" and "1 forward passes" in str(dear)


def test_synthetic_splits_are_cached_and_photos_split_by_name(tmp_path):
    from benchlib.training import split_photos, synthetic_photos, synthetic_split

    root = synthetic_split(tmp_path / "atr", "atr", 3, 2, (48, 36), seed=1)
    assert [len(split_photos(root, split)) for split in ("train", "val")] == [3, 2]
    written = (root / "train_id.txt").stat().st_mtime_ns
    assert synthetic_split(tmp_path / "atr", "atr", 3, 2, (48, 36), seed=1) == root  # reused, not rewritten
    assert (root / "train_id.txt").stat().st_mtime_ns == written
    photos = synthetic_photos(tmp_path / "photos", 2, seed=7, size=(48, 36))
    assert [p.name for p in photos] == ["p000.jpg", "p001.jpg"]
    from humanparse.tryon.keypoints import read_keypoints

    points = read_keypoints(tmp_path / "photos" / "p000_keypoints.json", (36, 48))  # OpenPose, photo pixels
    assert points.shape == (18, 2) and points[2:8].any() and not points[8:].any()


def test_tryon_accuracy_networks_keep_the_tryon_layout_at_the_tryon_scale():
    from benchlib import tryon_accuracy

    for kind, size in (("atr", 512), ("lip", 473)):
        config = tryon_accuracy.trained_config(kind)
        assert config.model.arch == "ce2p_official" and config.model.backbone_stem == "deep"
        assert (config.model.width, config.model.stage_blocks) == (0.25, (1, 1, 1, 1))
        assert tuple(config.eval.input_size) == (size, size)  # the try-on protocol's network input
        assert tuple(config.data.resize_size) == (size, round(size * 384 / 512))  # people at that scale
        assert config.data.normalization == "bgr" and config.train.optimizer == "adamw"


def _versus_reference_script():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "versus_reference.py"
    spec = importlib.util.spec_from_file_location("benchmarks_versus_reference", path)
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclasses look their module up
    spec.loader.exec_module(script)
    return script


def test_rounds_alternate_which_side_goes_first():
    from benchlib.processes import round_order

    assert round_order(["theirs", "fp32", "bf16"], 0) == ["theirs", "fp32", "bf16"]
    assert round_order(["theirs", "fp32", "bf16"], 1) == ["bf16", "fp32", "theirs"]
    assert round_order(["theirs", "fp32"], 2) == ["theirs", "fp32"]


def test_label_equality_reads_indexed_and_grey_pngs(tmp_path):
    import numpy as np
    from benchlib.processes import label_equality
    from PIL import Image

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    labels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    indexed = Image.fromarray(labels, mode="P")
    indexed.putpalette([255 - v for v in range(256) for _ in range(3)])  # colours unlike the ids
    indexed.save(ours / "a.png")
    other = labels.copy()
    other[0, :3] = 0  # 2 of 12 pixels differ (labels[0, 0] is already 0)
    Image.fromarray(other, mode="L").save(theirs / "a.png")
    Image.fromarray(labels, mode="L").save(ours / "b.png")
    Image.fromarray(labels, mode="L").save(theirs / "b.png")
    assert label_equality(ours, theirs, ["a"]) == pytest.approx(10 / 12)
    assert label_equality(ours, theirs, ["a", "b"]) == pytest.approx(22 / 24)
    Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(theirs / "c.png")
    Image.fromarray(labels, mode="L").save(ours / "c.png")
    with pytest.raises(ValueError, match="not a label map"):
        label_equality(ours, theirs, ["c"])


def test_versus_reference_verdicts_targets_and_table():
    script = _versus_reference_script()
    assert script.speedup_target("fp32", None) == 1.5 and script.speedup_target("bf16", True) == 2.0
    assert script.speedup_target("int8", True) == 3.0 and script.speedup_target("int8", False) == 2.5
    assert script.verdict(1.6, 1.5, 0.9995, "fp32") == "PASS"
    assert script.verdict(1.6, 1.5, 0.998, "fp32") == "MISS"  # fast, but labels below 99.9%
    assert script.verdict(1.4, 1.5, 1.0, "fp32") == "MISS"
    assert script.verdict(2.1, 2.0, 0.97, "bf16") == "PASS"  # bf16 / int8 labels are reported, not judged

    def side(label, precision, first, times, equal=None):
        return script.Side(label, precision, lambda out: [], {}, precision, first, times, equal)

    comparison = script.Comparison(
        "schp_resnet101_lip",
        side("theirs", "fp32", 20.0, [16.0, 15.0, 17.0]),
        [
            side("ours fp32", "fp32", 14.0, [10.0, 9.0, 11.0], 0.9999),
            side("ours int8", "int8", 9.0, [5.0], 0.99),
        ],
    )
    lines = script.markdown_table(comparison, images=16, int8_dot_product=False)
    assert lines[0].startswith("| side | median s | s / photo | speed-up")
    assert lines[2] == "| theirs | 16.00 | 1.000 | 1.00x | | | |"
    assert lines[3] == "| ours fp32 | 10.00 | 0.625 | 1.60x | >= 1.5x | PASS | 99.990% |"
    assert lines[4] == "| ours int8 | 5.00 | 0.312 | 3.20x | >= 2.5x | PASS | 99.000% |"
    assert lines[5].startswith("| theirs, cold first run | 20.00 |") and "0.80x" in lines[5]
    assert len(lines) == 2 + 3 + 3


def test_versus_reference_estimate_grows_with_rounds_photos_and_sides():
    script = _versus_reference_script()
    base = script.estimate_seconds(["schp_resnet101_lip"], images=16, rounds=3, ours_per_config=2, int8=False)
    # 4 runs (3 rounds and the first) of 3 sides, each 5 s of start and 16 x 0.6 s
    assert base == pytest.approx(4 * 3 * (5 + 16 * 0.6))
    assert script.estimate_seconds(["schp_resnet101_lip"], 16, 3, 2, int8=True) == pytest.approx(base + 120)
    assert script.estimate_seconds(["schp_resnet101_lip"], 32, 3, 2, False) > base
    assert script.estimate_seconds(["schp_resnet101_lip", "ce2p_resnet50os8_lip"], 16, 3, 2, False) > base
