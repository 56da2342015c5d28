"""Convert a reference checkpoint (SSSegmentation, official CE2P / CDGNet / CSENet, SCHP) to humanparse's format.

The weights are loaded strictly into the config's network (a mismatch lists the keys and the configs that fit),
then saved as {"model", "config", "format", "humanparse_version"}; the report is printed.

Example:
  humanparse convert exp-schp-201908261155-lip.pth schp_lip.pth --config schp_resnet101_lip
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_set_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="the checkpoint to convert (a file or a model-zoo name)")
    parser.add_argument("output", help="where to write the humanparse checkpoint")
    parser.add_argument(
        "--config", required=True, help="a recipe name (`humanparse configs`) or a YAML config file"
    )
    add_set_option(parser)


def run(args: argparse.Namespace) -> int:
    from humanparse.configs import load_config
    from humanparse.models.checkpoint_io import atomic_torch_save, checkpoint_dict
    from humanparse.models.weights import load_for_inference_with_report
    from humanparse.outputs import check_writable

    check_writable(args.output, "converted.pth")
    config = load_config(args.config).override(args.overrides)
    model, report = load_for_inference_with_report(config, args.input)
    atomic_torch_save(checkpoint_dict(model, model.config), args.output)
    print(report)
    print(f"written: {args.output} (config {config.name})")
    return 0
