"""SegFormer against transformers' SegformerForSemanticSegmentation: logits of seeded weights (MiT-B0, B2, B4 at odd
input sizes) and the loader on a real `save_pretrained` folder. Fixtures: tests/fixtures/segformer (README)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from segformer_weights import hf_shapes, hf_state_dict, seeded_input, spec_of

from humanparse.configs import get_config
from humanparse.errors import CheckpointError
from humanparse.models.checkpoint_io import read_checkpoint
from humanparse.models.prepare import prepare_for_inference, to_input
from humanparse.models.segformer import SegFormer, SegformerSpec, convert_checkpoint
from humanparse.models.weights import load_for_inference, load_for_inference_with_report, load_state

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "segformer"
TINY = FIXTURES / "tiny_hf"
# (fixture key, variant, input shape, weight seed, input seed): make_fixtures.py's PARITY_CASES
CASES = [
    ("b0", "b0", (2, 3, 67, 93), 10, 20),
    ("b2", "b2", (1, 3, 75, 53), 11, 21),
    ("b4", "b4", (1, 3, 61, 83), 12, 22),
]


def relative_error(ours: torch.Tensor, reference: np.ndarray) -> float:
    """max |ours - reference| / max |reference|."""
    reference_t = torch.from_numpy(reference)
    return float((ours - reference_t).abs().max() / reference_t.abs().max())


@pytest.mark.parametrize("prepared", [False, True], ids=["trained_form", "prepared"])
@pytest.mark.parametrize("key,variant,shape,weight_seed,input_seed", CASES, ids=[case[0] for case in CASES])
def test_logits_match_transformers(key, variant, shape, weight_seed, input_seed, prepared):
    expected = np.load(FIXTURES / "parity.npz")[key]
    spec = spec_of(variant)
    model = SegFormer(spec, 18).eval()
    report = load_state(model, convert_checkpoint(hf_state_dict(spec, 18, weight_seed)), strict=True)
    assert report.ok
    images = seeded_input(shape, input_seed)
    if prepared:  # what predict runs: the folded head, channels_last
        model = prepare_for_inference(model, torch.zeros(1, 3, 65, 65), inplace=True)
        images = to_input(images)
    with torch.no_grad():
        logits = model(images)["seg"]
    assert tuple(logits.shape) == expected.shape
    assert float(np.abs(expected).std()) > 0.5  # the fixture's logits are not flat
    assert relative_error(logits, expected) < 1e-4


def test_the_weight_generator_names_keys_as_save_pretrained_does():
    config = json.loads((TINY / "config.json").read_text())
    spec = spec_of(
        "",
        **{
            key: config[key]
            for key in ("hidden_sizes", "num_attention_heads", "depths", "decoder_hidden_size")
        },
    )
    saved = load_file(str(TINY / "model.safetensors"))
    assert {key: tuple(value.shape) for key, value in saved.items()} == dict(
        hf_shapes(spec, config["num_labels"] if "num_labels" in config else len(config["id2label"]))
    )


def test_a_save_pretrained_folder_loads_through_the_one_loader():
    model, report = load_for_inference_with_report(get_config("fashn_segformer_b4"), TINY)
    assert report.ok and report.format == "huggingface"
    options = model.config.model.arch_options  # config.json decided the architecture, not the recipe's B4
    assert options["hidden_sizes"] == [16, 32, 48, 64] and options["depths"] == [1, 2, 1, 1]
    reference = SegFormer(SegformerSpec.from_options(options), 18).eval()
    reference.load_state_dict(convert_checkpoint(load_file(str(TINY / "model.safetensors"))))
    images = seeded_input((1, 3, 45, 37), 3)
    with torch.no_grad():
        assert torch.equal(model(images)["seg"], reference(images)["seg"])


def test_a_bare_safetensors_file_and_a_pytorch_bin_folder_load(tmp_path):
    state = load_file(str(TINY / "model.safetensors"))
    # the .safetensors file beside its config.json
    (tmp_path / "a").mkdir()
    save_file(state, str(tmp_path / "a" / "weights.safetensors"))
    (tmp_path / "a" / "config.json").write_text((TINY / "config.json").read_text())
    first = load_for_inference("fashn_segformer_b4", tmp_path / "a" / "weights.safetensors")
    # a folder with pytorch_model.bin (read with weights_only=True)
    (tmp_path / "b").mkdir()
    torch.save(state, tmp_path / "b" / "pytorch_model.bin")
    (tmp_path / "b" / "config.json").write_text((TINY / "config.json").read_text())
    second = load_for_inference("fashn_segformer_b4", tmp_path / "b")
    images = seeded_input((1, 3, 40, 40), 4)
    with torch.no_grad():
        assert torch.equal(first(images)["seg"], second(images)["seg"])


def test_bad_hugging_face_folders_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="without model weights"):
        read_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="model.safetensors: not a readable safetensors file"):
        read_checkpoint(tmp_path)
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((TINY / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="without config.json"):
        load_for_inference("fashn_segformer_b4", folder)
    config = json.loads((TINY / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "vit"}))
    with pytest.raises(CheckpointError, match="'vit' model, not a SegFormer"):
        load_for_inference("fashn_segformer_b4", folder)
    config.pop("id2label"), config.pop("label2id")
    (folder / "config.json").write_text(json.dumps({**config, "num_labels": 7}))
    with pytest.raises(CheckpointError, match="7 labels, but fashn_segformer_b4 parses 18 classes"):
        load_for_inference("fashn_segformer_b4", folder)
