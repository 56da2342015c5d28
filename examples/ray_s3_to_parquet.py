"""Parse a folder of photos on S3 into parquet with Ray Data (pip install 'humanparse[ray,cloud]').

Files are read by Ray tasks, decoded by CPU tasks, parsed by an actor pool (one model per actor, on a GPU each
when --gpus-per-actor is given), and written as parquet: one row per photo with its path, its label map (uint8,
at the photo's size), a mask per --mask and the classes present. Credentials come from the environment or the
profile, as the AWS tools read them (an S3-compatible store: set AWS_ENDPOINT_URL).

  python examples/ray_s3_to_parquet.py s3://my-bucket/photos/ s3://my-bucket/parsed/ \
      --config schp_resnet101_lip --weights exp-schp-201908261155-lip.pth \
      --mask upper=upper_clothes,coat --actors 4 --gpus-per-actor 1 --batch-size 16

To write the label maps as PNG files instead (what `humanparse predict` writes, resumable), run
`humanparse predict CONFIG WEIGHTS s3://my-bucket/photos/ --out s3://my-bucket/parsed/ --engine ray`.
"""

from __future__ import annotations

import argparse

import ray

from humanparse.configs import load_config
from humanparse.integrations.ray import HumanParser, decode_photos


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", help="a folder of photos, e.g. s3://bucket/photos/ (or a local folder)")
    parser.add_argument("out", help="where the parquet files go, e.g. s3://bucket/parsed/")
    parser.add_argument("--config", required=True, help="a recipe name or YAML file, e.g. schp_resnet101_lip")
    parser.add_argument("--weights", required=True, help="the checkpoint (a path every Ray worker can read)")
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--mask", action="append", default=[], metavar="NAME=CLASS[,CLASS...]")
    parser.add_argument("--actors", type=int, default=1)
    parser.add_argument("--gpus-per-actor", type=float, default=0.0)
    parser.add_argument("--cpus-per-actor", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--address", help="a running Ray cluster (default: a local one)")
    args = parser.parse_args()

    ray.init(address=args.address, include_dashboard=False)
    photos = ray.data.read_binary_files(
        args.photos, include_paths=True, file_extensions=["jpg", "jpeg", "png", "bmp", "webp"]
    )
    decoded = photos.map_batches(decode_photos, batch_size=args.batch_size)  # CPU tasks
    parsed = decoded.map_batches(
        HumanParser,
        fn_constructor_kwargs={
            "config": load_config(args.config).override(args.overrides),
            "checkpoint": args.weights,
            "device": "cuda" if args.gpus_per_actor else "cpu",
            "masks": args.mask,
        },
        compute=ray.data.ActorPoolStrategy(size=args.actors),
        num_gpus=args.gpus_per_actor or None,
        num_cpus=args.cpus_per_actor,
        batch_size=args.batch_size,
    )
    parsed.write_parquet(args.out)  # columns: path, error, labels, mask_<NAME>..., classes


if __name__ == "__main__":
    main()
