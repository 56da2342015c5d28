"""`humanparse predict --engine ray` against the local pipeline on the same photos and cores (random weights:
speed does not depend on them). Alternating rounds: local, Ray with 1 actor (all threads), Ray with 2 actors
(half the threads each), each writing to a fresh folder.

Two figures per engine:
* job: wall time of the whole call (Ray: actor start and model load included, once per job);
* steady: seconds per photo between the first and the last output written (what a long job pays per photo).
The overhead per photo is Ray's steady s/photo minus the local one; target: Ray costs <= 15% at equal cores.

  python benchmarks/ray_engine.py --images 32 --repeats 2
  python benchmarks/ray_engine.py --config ce2p_tiny_synthetic --set model.width=0.125 --images 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from humanparse.cli.options import passive_openmp_threads

passive_openmp_threads()  # the local pipeline as `humanparse predict` runs it (before torch loads)

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_pipeline import make_photos  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="ce2p_resnet50os16_lip")
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--images", type=int, default=32, help="photos (640x480 JPEGs, default 32)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds (default 2)")
    return parser.parse_args(argv)


def _steady(out: Path, start: float) -> float:
    """Seconds per photo between the first and the last label map written (mtimes)."""
    times = sorted(path.stat().st_mtime for path in out.rglob("*.png"))
    if len(times) < 2:
        return float("nan")
    return (times[-1] - times[0]) / (len(times) - 1)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    import ray

    from humanparse.configs import load_config
    from humanparse.inference.pipeline import OutputSpec, available_cores, default_workers, run_pipeline
    from humanparse.inference.prediction_io import plan_inputs
    from humanparse.inference.predictor import Predictor
    from humanparse.integrations.ray import connect, run_job
    from humanparse.models.builder import build_model
    from humanparse.models.checkpoint_io import checkpoint_dict

    cores = available_cores()
    config = load_config(args.config).override(args.overrides)
    work = Path(tempfile.mkdtemp(prefix="ray_engine_"))
    torch.manual_seed(0)
    weights = work / "random.pth"
    torch.save(checkpoint_dict(build_model(config).eval(), config), weights)
    make_photos(work / "photos", args.images)
    items = plan_inputs([work / "photos"])
    spec = OutputSpec()
    torch.set_num_threads(cores)
    predictor = Predictor(config, weights)
    settings = {"config": config, "checkpoint": str(weights), "backend": "torch", "device": "cpu",
                "scales": None, "flip": None, "precision": "fp32"}  # fmt: skip
    connect(None, num_cpus=cores + 2)  # as `predict --engine ray` starts a local Ray

    def local(out: Path):
        return run_pipeline(
            predictor, items, out, spec, batch_size=args.batch_size, workers=default_workers(cores)
        )

    def on_ray(actors: int):
        def job(out: Path):
            return run_job(items, out, spec, settings, actors=actors, threads=max(1, cores // actors),
                           batch_size=args.batch_size)  # fmt: skip

        return job

    engines = {"local pipeline": local, "ray, 1 actor": on_ray(1), "ray, 2 actors": on_ray(2)}
    job_s: Dict[str, List[float]] = {name: [] for name in engines}
    steady_s: Dict[str, List[float]] = {name: [] for name in engines}
    local(work / "warm")  # first-call costs (thread pools, NNPACK) out of the rounds
    for round_index in range(args.repeats):
        for name, engine in engines.items():
            out = work / f"out_{round_index}_{name.replace(' ', '_').replace(',', '')}"
            start = time.time()
            summary = engine(out)
            job_s[name].append(time.time() - start)
            steady_s[name].append(_steady(out, start))
            assert summary.done == len(items), (name, summary.line())
            print(f"round {round_index + 1} {name}: job {job_s[name][-1]:.1f} s, steady {steady_s[name][-1]:.3f} s/photo",
                  flush=True)  # fmt: skip
    ray.shutdown()

    base_steady = statistics.median(steady_s["local pipeline"])
    base_job = statistics.median(job_s["local pipeline"])
    print(f"\n{args.config}, {args.images} photos 640x480, batch {args.batch_size}, {cores} cores, "
          f"median of {args.repeats} alternating rounds")  # fmt: skip
    print("| engine | job s | photos/s (job) | steady s/photo | overhead per photo | steady cost vs local |")
    print("|---|---|---|---|---|---|")
    verdicts = []
    for name in engines:
        job, steady = statistics.median(job_s[name]), statistics.median(steady_s[name])
        overhead = steady - base_steady
        cost = steady / base_steady - 1
        print(f"| {name} | {job:.1f} | {args.images / job:.2f} | {steady:.3f} | {overhead * 1000:+.0f} ms | "
              f"{cost:+.1%} (job {job / base_job - 1:+.1%}) |")  # fmt: skip
        if name != "local pipeline":
            verdicts.append(cost <= 0.15)
    print(f"\ntarget (Ray steady cost <= 15% at equal cores): {'PASS' if all(verdicts) else 'MISS'}")


if __name__ == "__main__":
    main()
