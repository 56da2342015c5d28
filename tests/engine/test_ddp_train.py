"""Two-process CPU DDP (gloo): the ranks end with identical weights, equal to a single process that sees the
same total batch.

torch's SyncBatchNorm refuses CPU tensors (torch 2.13: "SyncBatchNorm expected input tensor to be on GPU"), so on
the CPU each process normalises with its own half of the batch. The single-process reference therefore runs the
two halves one after the other (each as one rank's batch, the same dropout stream for both, as every rank has)
and sums their gradients divided by the world size, which is exactly what DDP's gradient averaging computes.
The augmentation is switched off so that a sample depends only on its index.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import DistributedSampler, default_collate
from train_fixtures import make_synthetic_lip, tiny_config

from humanparse.engine.trainer import poly_lr

WORLD = 2
DETERMINISTIC = (
    # the SGD + poly schedule of the CE2P recipes, which the one-process reference below replays
    "train.optimizer=sgd",
    "train.lr=0.02",
    "train.weight_decay=5e-4",
    "train.warmup_iterations=0",
    "train.poly_power=0.9",
    "train.min_lr=2e-4",
    "train.batch_size=4",
    "train.epochs=1",
    "train.eval_interval=0",
    "data.resize_size=[64,64]",
    "data.scale_range=[1.0,1.0]",
    "data.flip_prob=0.0",
    "data.rotation_prob=0.0",
    "data.photometric=false",
)


@pytest.fixture(scope="module")
def synthetic_lip(tmp_path_factory):
    return make_synthetic_lip(tmp_path_factory.mktemp("synthetic_lip"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rank_main(rank: int, port: int, data_root: str, work_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from humanparse.engine import distributed
    from humanparse.engine.trainer import Trainer

    try:
        trainer = Trainer(tiny_config(data_root, *DETERMINISTIC), work_dir, progress=False)
        trainer.fit()
        weights = distributed.unwrap_model(trainer.model).state_dict()
        torch.save(weights, os.path.join(work_dir, f"rank{rank}.pt"))
    finally:
        distributed.cleanup()


def _single_process_reference(config):
    from humanparse.data.datasets import build_dataset
    from humanparse.losses import build_loss
    from humanparse.models.builder import build_model

    torch.manual_seed(config.train.seed)  # the trainer seeds before building: same initial weights
    dataset = build_dataset(config, config.data.train_split, train=True)
    model = build_model(config).train()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    loss_fn = build_loss(config)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.train.lr,
        momentum=config.train.momentum,
        weight_decay=config.train.weight_decay,
    )
    per_rank = config.train.batch_size // WORLD
    shards = []
    for rank in range(WORLD):
        sampler = DistributedSampler(dataset, WORLD, rank, shuffle=True, seed=config.train.seed)
        sampler.set_epoch(1)
        shards.append(list(sampler))
    iterations = len(shards[0]) // per_rank
    for iteration in range(iterations):
        lr = poly_lr(config.train.lr, iteration, iterations, config.train.poly_power, config.train.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        rng = torch.get_rng_state()
        for shard in shards:
            torch.set_rng_state(rng)
            batch = default_collate(
                [dataset[i] for i in shard[iteration * per_rank : (iteration + 1) * per_rank]]
            )
            (loss_fn(model(batch["image"]), batch)["loss"] / WORLD).backward()
        optimizer.step()
    return initial, model.state_dict()


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_with_the_same_total_batch(synthetic_lip, tmp_path):
    work_dir = tmp_path / "ddp"
    mp.spawn(_rank_main, args=(_free_port(), str(synthetic_lip), str(work_dir)), nprocs=WORLD, join=True)
    rank0 = torch.load(work_dir / "rank0.pt", weights_only=True)
    rank1 = torch.load(work_dir / "rank1.pt", weights_only=True)
    saved = torch.load(work_dir / "epoch_1.pth", weights_only=True)
    assert saved["iteration"] == 8 // 4  # 8 images, total batch 4: 2 per rank, 2 iterations
    assert len(saved["rng"]["ranks"]) == WORLD

    initial, reference = _single_process_reference(tiny_config(synthetic_lip, *DETERMINISTIC))
    parameters = [
        k for k in reference if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    ]
    moved = max((reference[k] - initial[k]).abs().max().item() for k in parameters)
    assert moved > 1e-3  # training changed the weights, so the comparison below means something
    for key in parameters:
        assert torch.equal(rank0[key], rank1[key]), key  # DDP keeps the ranks in lockstep
        # gloo's all-reduce sums in another order than the sequential reference, and this tiny network amplifies
        # rounding (measured: DDP vs the reference 0.35% of the update; the same reference in float64, up to 16%
        # on single tensors), so an exact match is not to be had. A real averaging bug moves it by ~100%.
        update = (reference[key] - initial[key]).norm()
        assert (rank0[key] - reference[key]).norm() <= 1e-2 * update + 1e-7, key
        torch.testing.assert_close(saved["model"][key], rank0[key], rtol=0, atol=0)
