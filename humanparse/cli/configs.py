"""List the named recipes, or print one (`humanparse configs show NAME`).

Examples:
  humanparse configs
  humanparse configs show ce2p_resnet101os8_lip > my_recipe.yaml   # edit, then train with it
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_set_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    parser.add_argument("name", nargs="?", help="config name (for `show`)")
    add_set_option(parser)


def run(args: argparse.Namespace) -> int:
    from humanparse.configs import get_config, list_configs
    from humanparse.errors import ConfigError
    from humanparse.zoo.licences import weights_licence

    if args.action == "show":
        if not args.name:
            raise ConfigError("`configs show` needs a config name; `humanparse configs` lists them")
        print(get_config(args.name).override(args.overrides).to_yaml(), end="")
        return 0
    rows = []
    for name in list_configs():
        config = get_config(name)
        miou = config.published.get("miou")
        licence = weights_licence(name)
        rows.append(
            (
                name,
                f"{miou:.2f}" if miou else "-",
                config.published.get("protocol", ""),
                licence.short if licence else "-",
            )
        )
    width = max(len(r[0]) for r in rows)
    protocol_width = max(len(r[2]) for r in rows)
    print(f"{'config':<{width}}  {'mIoU':>6}  {'protocol':<{protocol_width}}  weights licence")
    for name, miou, protocol, licence in rows:
        print(f"{name:<{width}}  {miou:>6}  {protocol:<{protocol_width}}  {licence}")
    return 0
