"""Time our networks' inference: median latency and images per second of each recipe on this machine.

Each recipe's network is built with random weights, prepared as the predictor runs it (BatchNorm folded,
channels_last), and given random images of --size (default: the recipe's input size) in batches of --batch;
the time is the median of --repeats runs after --warmup untimed ones. peak MiB is the process's peak resident
memory on a CPU, and what torch allocated on a GPU. Comparisons with the reference implementations live in
the repository's benchmarks/ folder, not here.

Example:
  humanparse benchmark ce2p_resnet50os16_lip schp_resnet101_lip --precision bf16 --repeats 3
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_benchmark_options, add_precision_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="recipe names (`humanparse configs`)")
    add_benchmark_options(parser, default_size=None)
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass (default 1)")
    add_precision_option(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from humanparse.hardware import cpu_bf16_support
    from humanparse.inference.timing import format_timings, resolve_device, time_inference

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads", end="")
    print(f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    if device.type == "cpu" and args.precision == "bf16":
        print(cpu_bf16_support()[1])
    timings = [
        time_inference(name, args.device, args.precision, args.size, args.batch, args.repeats, args.warmup)
        for name in args.configs
    ]
    print(format_timings(timings))
    return 0
