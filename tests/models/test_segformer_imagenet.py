"""ImageNet MiT encoders as SegFormer's fine-tuning start (`model.pretrained`): NVlabs' mit_bN.pth and Hugging
Face's nvidia/mit-bN folders, built here as tiny fakes (seeded tensors with the published names and shapes)."""

from __future__ import annotations

import json
import re

import pytest
import torch
from safetensors.torch import save_file
from segformer_weights import hf_shapes, hf_state_dict, spec_of

from humanparse import build_model, get_config
from humanparse.errors import CheckpointError
from humanparse.models.segformer import convert_checkpoint

IMAGENET_CLASSES = 1000


def imagenet_encoder(variant: str) -> dict:
    """Seeded MiT weights in Hugging Face's encoder names (`segformer.encoder.*`) with an ImageNet classifier."""
    spec = spec_of(variant)
    state = {k: v for k, v in hf_state_dict(spec, 2, seed=3).items() if k.startswith("segformer.encoder.")}
    state["classifier.weight"] = torch.randn(IMAGENET_CLASSES, spec.hidden_sizes[-1])
    state["classifier.bias"] = torch.randn(IMAGENET_CLASSES)
    return state


def nvlabs_names(state: dict) -> dict:
    """The same weights as NVlabs' mit_bN.pth names them: patch_embed1, block1.0.attn.q / .kv (keys first), norm1,
    head."""
    renamed = {}
    for key, value in state.items():
        key = re.sub(r"^classifier\.", "head.", key)
        key = re.sub(
            r"^segformer\.encoder\.patch_embeddings\.(\d)\.", lambda m: f"patch_embed{int(m[1]) + 1}.", key
        )
        key = re.sub(r"^segformer\.encoder\.block\.(\d)\.", lambda m: f"block{int(m[1]) + 1}.", key)
        key = re.sub(r"^segformer\.encoder\.layer_norm\.(\d)\.", lambda m: f"norm{int(m[1]) + 1}.", key)
        for ours, theirs in (
            ("layer_norm_1", "norm1"),
            ("layer_norm_2", "norm2"),
            ("attention.self.query", "attn.q"),
            ("attention.self.sr", "attn.sr"),
            ("attention.self.layer_norm", "attn.norm"),
            ("attention.output.dense", "attn.proj"),
            ("mlp.dense1", "mlp.fc1"),
            ("mlp.dense2", "mlp.fc2"),
            (".layer_norm.", ".norm."),
        ):
            key = key.replace(ours, theirs)
        renamed[key] = value
    for key in [k for k in renamed if ".attention.self.key." in k]:
        value_key = key.replace(".key.", ".value.")
        joined = key.replace(".attention.self.key.", ".attn.kv.")
        renamed[joined] = torch.cat([renamed.pop(key), renamed.pop(value_key)])
    return renamed


def encoder_values(state: dict) -> dict:
    """What our encoder should hold: the Hugging Face names converted, `backbone.` removed."""
    return {
        k[len("backbone.") :]: v for k, v in convert_checkpoint(state).items() if k.startswith("backbone.")
    }


def segformer(variant: str, pretrained: str = ""):
    config = get_config("segformer_b2_clothes").override(
        [f"model.arch_options={{variant: {variant}}}", f"model.pretrained={pretrained}"]
    )
    torch.manual_seed(0)
    return build_model(config)


@pytest.fixture(scope="module")
def b0():
    return imagenet_encoder("b0")


def nvlabs_file(tmp_path, state):
    path = tmp_path / "mit_b0.pth"
    torch.save(nvlabs_names(state), path)
    return path


def hf_folder(tmp_path, state, weights="model.safetensors"):
    folder = tmp_path / "mit-b0"
    folder.mkdir()
    config = {"model_type": "segformer", "reshape_last_stage": False, "num_labels": IMAGENET_CLASSES}
    (folder / "config.json").write_text(json.dumps(config))
    if weights == "model.safetensors":
        save_file(state, str(folder / weights))
    else:
        torch.save(state, folder / weights)
    return folder


def test_the_fake_files_have_the_published_names(b0):
    names = nvlabs_names(b0)
    assert {
        "patch_embed1.proj.weight",
        "block1.0.attn.q.weight",
        "block1.0.attn.kv.weight",
        "norm1.weight",
    } <= set(names)
    assert names["block4.1.attn.kv.weight"].shape == (512, 256) and names["head.weight"].shape == (1000, 256)
    encoder = [key for key, _ in hf_shapes(spec_of("b0"), 2) if key.startswith("segformer.encoder.")]
    assert set(b0) == set(encoder) | {"classifier.weight", "classifier.bias"}


@pytest.mark.parametrize("layout", ["nvlabs", "hf_safetensors", "hf_bin"])
def test_an_imagenet_encoder_lands_in_the_encoder_and_the_head_stays(tmp_path, b0, layout):
    if layout == "nvlabs":
        path = nvlabs_file(tmp_path, b0)
    else:
        path = hf_folder(
            tmp_path, b0, "model.safetensors" if layout == "hf_safetensors" else "pytorch_model.bin"
        )
    fresh = segformer("b0")
    model = segformer("b0", str(path))
    expected = encoder_values(b0)
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    # NVlabs' kv: keys are its first rows, values the rest
    assert torch.equal(
        model.backbone.blocks[0][0].attn.key.weight,
        b0["segformer.encoder.block.0.0.attention.self.key.weight"],
    )
    for (
        key,
        value,
    ) in fresh.decode_head.state_dict().items():  # the ImageNet classifier is not loaded anywhere
        assert torch.equal(model.decode_head.state_dict()[key], value), key


def test_an_encoder_of_another_size_is_one_line_naming_the_file(tmp_path, b0):
    path = nvlabs_file(tmp_path, b0)
    with pytest.raises(CheckpointError) as caught:
        segformer("b2", str(path))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    assert "(MiT-B0)" in message and "(MiT-B2)" in message


def test_a_file_without_a_mit_encoder_is_one_line(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 2048)}, path)
    with pytest.raises(CheckpointError, match=r"resnet50\.pth: .*holds no MiT encoder") as caught:
        segformer("b0", str(path))
    assert "\n" not in str(caught.value)


def test_a_folder_without_weights_is_one_line(tmp_path):
    folder = tmp_path / "mit-b0"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="mit-b0: a folder without model weights") as caught:
        segformer("b0", str(folder))
    assert "\n" not in str(caught.value)
