"""Train a recipe on a dataset, on one process or many (torchrun), with checkpoints, logs and plots.

Examples:
  humanparse train ce2p_resnet101os8_lip --data-root data/LIP --work-dir runs/lip
  humanparse train ce2p_tiny_synthetic --data-root data/synth        # work dir runs/ce2p_tiny_synthetic
  humanparse train runs/lip/config.yaml --data-root data/LIP --work-dir runs/lip --resume
  torchrun --nproc_per_node 4 -m humanparse train csenet_resnet101_lip --data-root data/LIP \\
      --work-dir runs/csenet --device cuda

The work dir receives epoch_E.pth checkpoints with a latest.json pointer (and best.pth), log.jsonl, train.log,
config.yaml and the loss / lr / val_miou PNG plots. --resume continues from latest.json's checkpoint (or, without
it, the newest readable epoch_E.pth); in an empty or new folder it starts a new run. Under torchrun a rank waits
at most HUMANPARSE_DDP_TIMEOUT_S seconds (default 600) for the others before the run stops with an error.
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_device_option, add_set_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a recipe name (`humanparse configs`) or a YAML config file")
    parser.add_argument("--data-root", required=True, help="the dataset's root folder")
    parser.add_argument(
        "--work-dir",
        help="where checkpoints, logs and plots are written (default runs/<config name>; a folder that holds "
        "files is never reused without --resume or --overwrite)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --work-dir from its last checkpoint"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start again in a work dir that holds a previous run"
    )
    add_set_option(parser)
    add_device_option(parser)
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument(
        "--eval-interval", type=int, help="override train.eval_interval (epochs; 0: last epoch only)"
    )
    parser.add_argument(
        "--keep-checkpoints", type=int, default=3, help="epoch checkpoints to keep (default 3)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs are still written)")


def run(args: argparse.Namespace) -> int:
    import os

    from humanparse.configs import load_config
    from humanparse.engine import distributed
    from humanparse.engine.trainer import Trainer
    from humanparse.output_paths import check_output_folder

    _check_options(args)
    config = load_config(args.config).override(args.overrides)
    config.data.root = args.data_root  # set directly: a path is not YAML to parse
    if args.work_dir is None:
        args.work_dir = f"runs/{config.name}"
        if os.environ.get("RANK", "0") == "0":  # before the process group exists: torchrun's variable
            print(f"work dir: {args.work_dir} (the default; choose another with --work-dir)")
    # the run's files (checkpoints, logs, config.yaml) never go into the dataset
    check_output_folder(args.work_dir, option="--work-dir", input_folders=[args.data_root])
    if args.epochs is not None:
        config.train.epochs = args.epochs
    if args.eval_interval is not None:
        config.train.eval_interval = args.eval_interval
    trainer = Trainer(
        config,
        args.work_dir,
        device=args.device,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        keep_checkpoints=args.keep_checkpoints,
    )
    try:
        summary = trainer.fit()
    finally:
        distributed.cleanup()
    if trainer.is_main:  # the rank this process had (after cleanup every process reads as rank 0)
        best = summary["best_mIoU"]
        best_text = f", best validation mIoU {100 * best:.2f}%" if best is not None else ""
        print(
            f"trained {summary['epochs']} epochs ({summary['iterations']} iterations){best_text}; see {args.work_dir}"
        )
    return 0


def _check_options(args: argparse.Namespace) -> None:
    from humanparse.errors import ConfigError

    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs {args.epochs}: the number of epochs must be at least 1")
    if args.eval_interval is not None and args.eval_interval < 0:
        raise ConfigError(
            f"--eval-interval {args.eval_interval}: must be 0 (last epoch only) or a positive number"
        )
    if args.keep_checkpoints < 1:
        raise ConfigError(f"--keep-checkpoints {args.keep_checkpoints}: at least 1 checkpoint must be kept")
