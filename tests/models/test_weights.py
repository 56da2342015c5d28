"""load_weights / load_imagenet_backbone / the zoo / `humanparse convert`, on tiny models and temporary files."""

import shutil

import numpy as np
import pytest
import torch

import humanparse
from humanparse.cli import main as cli_main
from humanparse.errors import CheckpointError
from humanparse.models.backbones.resnet import ResNet
from humanparse.models.checkpoint_io import OWN_FORMAT_KEY
from humanparse.models.conversions import load_imagenet_backbone
from humanparse.models.weights import load_weights

TINY = "ce2p_tiny_synthetic"


def _tiny(name=TINY, num_classes=None, seed=0):
    config = humanparse.get_config(name).override(["model.width=0.25", "model.stage_blocks=[1,1,1,1]"])
    if num_classes is not None:
        config = config.override([f"model.num_classes={num_classes}"])
    torch.manual_seed(seed)
    model = humanparse.build_model(config)
    for name_, buffer in model.named_buffers():  # non-default statistics, so loading them is visible
        if name_.endswith("running_mean"):
            buffer.normal_()
    return model


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def _ssseg_state(model):
    return {k.replace("backbone.", "backbone_net.", 1): v for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    "wrap, fmt",
    [
        (lambda sd: {"model": sd}, "sssegmentation"),
        (lambda sd: {f"module.{k}": v for k, v in sd.items()}, "official"),
        (lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}}, "schp"),
    ],
)
def test_reference_formats_are_detected_and_converted(tmp_path, wrap, fmt):
    source, target = _tiny(seed=0), _tiny(seed=1)
    path = tmp_path / "weights.pth"
    torch.save(wrap(_ssseg_state(source)), path)
    report = load_weights(target, path)
    assert report.format == fmt and report.ok and report.converted == len(source.state_dict())
    assert str(path) in str(report)
    _assert_same_weights(source, target)


def test_convert_cli_writes_own_format(tmp_path, capsys):
    source = _tiny(TINY, seed=0)
    reference = tmp_path / "ssseg.pth"
    torch.save({"model": _ssseg_state(source)}, reference)
    out = tmp_path / "out" / "converted.pth"
    args = ["model.width=0.25", "model.stage_blocks=[1,1,1,1]"]
    assert cli_main(["convert", str(reference), str(out), "--config", TINY, "--set", *args]) == 0
    assert "sssegmentation" in capsys.readouterr().out
    saved = torch.load(out, weights_only=True)
    assert OWN_FORMAT_KEY in saved and saved["config"]["name"] == TINY
    assert not list(out.parent.glob("*.tmp"))
    target = _tiny(TINY, seed=1)
    assert load_weights(target, out).format == "humanparse"
    _assert_same_weights(source, target)


def test_unreadable_sources_name_the_file(tmp_path):
    model = _tiny()
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_weights(model, tmp_path / "absent.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="notes.pth"):
        load_weights(model, text)
    code = tmp_path / "code.pth"
    torch.save({"model": shutil.Error("needs code to unpickle")}, code)
    with pytest.raises(CheckpointError, match=r"code.pth: .*shutil.Error") as refused:
        load_weights(model, code)
    message = str(refused.value)
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message
    random_bytes = tmp_path / "random.pth"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(CheckpointError, match="random.pth: .*not a PyTorch weights file") as refused:
        load_weights(model, random_bytes)
    assert "weights_only" not in str(refused.value)
    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_weights(model, tensor)


def test_strict_mismatch_lists_keys_and_suggests_configs(tmp_path):
    path = tmp_path / "twenty.pth"
    torch.save({"model": _ssseg_state(_tiny(num_classes=20))}, path)
    config = humanparse.get_config(TINY)
    assert config.model.width == 0.25 and config.model.stage_blocks == (1, 1, 1, 1)
    eighteen = _tiny(num_classes=18)
    with pytest.raises(CheckpointError) as error:
        load_weights(eighteen, path)
    message = str(error.value)
    assert "decoder_stage1.7.weight" in message and "decoder_stage2.7.bias" in message
    assert f"these configs fit it: {TINY}" in message
    report = load_weights(eighteen, path, strict=False)
    assert len(report.mismatched) == 4 and not report.missing and not report.unexpected
    assert report.converted == len(eighteen.state_dict()) - 4
    assert "strict=False" in str(report)


def test_unexpected_and_missing_keys_are_reported(tmp_path):
    state = _ssseg_state(_tiny())
    state["extra.weight"] = torch.zeros(1)
    del state["shortcut.0.weight"]
    path = tmp_path / "odd.pth"
    torch.save({"model": state}, path)
    with pytest.raises(CheckpointError, match=r"missing \(1\): shortcut.0.weight") as error:
        load_weights(_tiny(), path)
    assert "unexpected (1): extra.weight" in str(error.value)
    assert "no named config fits it" in str(error.value)


def _zoo_model():
    config = humanparse.get_config("ce2p_resnet50os8_lip").override(
        ["model.width=0.25", "model.stage_blocks=[1,1,1,1]"]
    )
    return humanparse.build_model(config)


def test_zoo_name_uses_the_hub_cache_and_downloads_direct_links(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    source = _zoo_model()
    published = tmp_path / "published.pth"
    torch.save({"model": _ssseg_state(source)}, published)
    downloads = []

    def fake_download(url, destination, progress=True):
        downloads.append(url)
        shutil.copyfile(published, destination)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    target = _zoo_model()
    report = load_weights(target, "ce2p_resnet50os8_lip")
    assert downloads == [humanparse.get_config("ce2p_resnet50os8_lip").published["weights_url"]]
    assert report.path == str(tmp_path / "hub" / "checkpoints" / "ce2p_resnet50os8_lip.pth")
    _assert_same_weights(source, target)
    load_weights(_zoo_model(), "ce2p_resnet50os8_lip")  # now cached: no second download
    assert len(downloads) == 1


def test_zoo_manual_links_ask_for_a_local_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(CheckpointError, match="drive.google.com.*exp-schp-201908261155-lip.pth"):
        load_weights(torch.nn.Linear(1, 1), "schp_resnet101_lip")
    with pytest.raises(CheckpointError, match="neither an existing file nor a model-zoo name"):
        load_weights(torch.nn.Linear(1, 1), "no_such_config")


@pytest.mark.parametrize("stem, wrapper", [("v1c", "state_dict"), ("deep", None)])
def test_imagenet_backbone_layouts(tmp_path, stem, wrapper):
    torch.manual_seed(0)
    source = ResNet(50, stem, 16, width=0.125, stage_blocks=(1, 1, 1, 1))
    state = dict(source.state_dict())
    if stem == "deep":  # old torchvision-era files carry no num_batches_tracked
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(10, 256), torch.zeros(10)
    path = tmp_path / f"{stem}.pth"
    torch.save({wrapper: state} if wrapper else state, path)
    target = ResNet(50, stem, 8, width=0.125, stage_blocks=(1, 1, 1, 1))
    report = load_imagenet_backbone(target, path)
    assert report.ok
    assert all(torch.equal(target.state_dict()[k], v) for k, v in state.items() if not k.startswith("fc."))
    other = ResNet(50, "deep" if stem == "v1c" else "v1c", 8, width=0.125, stage_blocks=(1, 1, 1, 1))
    with pytest.raises(CheckpointError, match="does not fit") as error:
        load_imagenet_backbone(other, path)
    assert "missing" in str(error.value) and "unexpected" in str(error.value)


def test_build_model_loads_the_pretrained_backbone(tmp_path):
    model = _tiny(seed=0)
    path = tmp_path / "imagenet.pth"
    torch.save({"state_dict": model.backbone.state_dict()}, path)
    config = model.config.override([f"model.pretrained={path}"])
    rebuilt = humanparse.build_model(config)
    _assert_same_weights(model.backbone, rebuilt.backbone)
    broken = tmp_path / "broken.pth"
    torch.save({"state_dict": {"stem.0.weight": torch.zeros(1)}}, broken)
    with pytest.raises(CheckpointError, match="broken.pth"):
        humanparse.build_model(model.config.override([f"model.pretrained={broken}"]))
