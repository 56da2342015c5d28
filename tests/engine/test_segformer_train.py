"""SegFormer fine-tuning as mmsegmentation's SegFormer configs define it: AdamW parameter groups (10x lr on the
head, no decay on norms and depth-wise positional convs), linear warm-up then poly 1.0; and a short run."""

from __future__ import annotations

import json

import pytest
import torch
from train_fixtures import make_synthetic_lip

from humanparse.configs import get_config
from humanparse.engine.optim import build_optimizer, lr_at, param_groups, set_lr
from humanparse.engine.trainer import Trainer
from humanparse.models.builder import build_model

TINY = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]


@pytest.fixture(scope="module")
def model():
    return build_model(get_config("fashn_segformer_b4").override(TINY))


def test_the_recipe_is_mmsegmentations():
    train = get_config("fashn_segformer_b4").train
    assert (train.optimizer, train.lr, tuple(train.betas), train.weight_decay) == (
        "adamw",
        6e-5,
        (0.9, 0.999),
        0.01,
    )
    assert (train.head_lr_mult, train.no_decay_norms, train.warmup_iterations, train.poly_power) == (
        10.0,
        True,
        1500,
        1.0,
    )
    assert (train.warmup_ratio, train.min_lr, train.loss) == (1e-6, 0.0, "ce")
    assert get_config("segformer_b2_clothes").train == train


def test_parameter_groups(model):
    train = get_config("fashn_segformer_b4").train
    groups = {group["name"]: group for group in param_groups(model, train)}
    assert set(groups) == {"backbone", "backbone_no_decay", "head", "head_no_decay"}
    names = {id(p): n for n, p in model.named_parameters()}
    members = {key: {names[id(p)] for p in group["params"]} for key, group in groups.items()}
    assert sum(len(m) for m in members.values()) == len(names)  # every parameter, once
    assert (groups["backbone"]["lr_mult"], groups["backbone"]["weight_decay"]) == (1.0, 0.01)
    assert (groups["backbone_no_decay"]["lr_mult"], groups["backbone_no_decay"]["weight_decay"]) == (1.0, 0.0)
    assert (groups["head"]["lr_mult"], groups["head"]["weight_decay"]) == (10.0, 0.01)
    assert (groups["head_no_decay"]["lr_mult"], groups["head_no_decay"]["weight_decay"]) == (10.0, 0.0)
    no_decay = members["backbone_no_decay"]
    assert (
        "backbone.blocks.0.0.mlp.dwconv.weight" in no_decay
        and "backbone.blocks.0.0.mlp.dwconv.bias" in no_decay
    )
    assert {
        "backbone.blocks.0.0.norm1.weight",
        "backbone.norms.3.bias",
        "backbone.patch_embeds.0.norm.weight",
    } <= no_decay
    assert "backbone.blocks.0.0.attn.norm.weight" in no_decay  # the sequence-reduction LayerNorm
    decayed = members["backbone"]
    assert {
        "backbone.patch_embeds.0.proj.weight",
        "backbone.blocks.0.0.attn.sr.weight",
        "backbone.blocks.0.0.attn.query.weight",
    } <= decayed
    assert not any(".norm" in name or "dwconv" in name for name in decayed)
    assert members["head_no_decay"] == {"decode_head.batch_norm.weight", "decode_head.batch_norm.bias"}
    assert (
        "decode_head.classifier.weight" in members["head"]
        and "decode_head.linear_c.0.weight" in members["head"]
    )


def test_adamw_rates_follow_the_groups(model):
    train = get_config("fashn_segformer_b4").train
    optimizer = build_optimizer(model, train)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert all(group["betas"] == (0.9, 0.999) for group in optimizer.param_groups)
    set_lr(optimizer, lr_at(train, 1500, 160000))
    rates = {group["name"]: group["lr"] for group in optimizer.param_groups}
    assert rates["backbone"] == pytest.approx(6e-5) and rates["head"] == pytest.approx(6e-4)
    assert rates["head_no_decay"] == pytest.approx(6e-4)


def test_warmup_then_poly_as_mmengine_schedules_it():
    train = get_config("fashn_segformer_b4").train
    total = 160000  # mmseg's 160k schedule
    # LinearLR(start_factor=1e-6, end=1500): factor = 1e-6 + (1 - 1e-6) * it / 1500
    assert lr_at(train, 0, total) == pytest.approx(6e-5 * 1e-6, rel=1e-12)
    assert lr_at(train, 750, total) == pytest.approx(6e-5 * (1e-6 + (1 - 1e-6) * 0.5), rel=1e-12)
    assert lr_at(train, 1499, total) == pytest.approx(6e-5 * (1e-6 + (1 - 1e-6) * 1499 / 1500), rel=1e-12)
    # PolyLR(power=1.0, eta_min=0, begin=1500, end=160000)
    assert lr_at(train, 1500, total) == pytest.approx(6e-5, rel=1e-12)
    assert lr_at(train, 1500 + 79250, total) == pytest.approx(3e-5, rel=1e-12)
    assert lr_at(train, 159999, total) == pytest.approx(6e-5 / 158500, rel=1e-9)


def test_sgd_recipes_keep_one_group_and_no_warmup():
    config = get_config("ce2p_resnet50os8_lip")  # SSSegmentation's CE2P: SGD, poly, no warm-up
    model = build_model(config)
    optimizer = build_optimizer(model, config.train)
    assert isinstance(optimizer, torch.optim.SGD) and len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["weight_decay"] == config.train.weight_decay
    assert lr_at(config.train, 0, 100) == pytest.approx(config.train.lr)


@pytest.mark.slow
def test_a_short_segformer_run_warms_up_and_decays(tmp_path):
    root = make_synthetic_lip(tmp_path / "data")
    config = get_config("segformer_b2_clothes").override(
        [
            *TINY,
            "data.dataset=lip",
            "model.num_classes=20",
            "model.input_size=[64,64]",
            "data.crop_size=[64,64]",
            "data.resize_size=[72,72]",
            "data.num_workers=0",
            "eval.protocol=resize",
            "eval.input_size=[64,64]",
            "train.batch_size=2",
            "train.epochs=2",
            "train.eval_interval=1",
            "train.warmup_iterations=3",
        ]
    )
    config.data.root = str(root)
    summary = Trainer(config, tmp_path / "run", progress=False).fit()
    assert summary["iterations"] == 8
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    rates = [record["lr"] for record in records if record["type"] == "train"]
    assert rates[0] == pytest.approx(6e-5 * 1e-6) and rates[3] == pytest.approx(6e-5)
    assert rates[4] == pytest.approx(6e-5 * (1 - 1 / 5))
