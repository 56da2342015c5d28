"""Runs OOTDiffusion's own preprocessing (run/run_ootd.py, parsing_api.py, utils_ootd.py) on the CPU for one job
list, with stand-ins only for what needs CUDA or is not installed, and saves what it produces losslessly.

Run by `make_tryon_fixtures.py` in a subprocess: `python tryon_reference_driver.py REPO JOBS.json OUT`. REPO is a
scratch copy of levihsu/OOTDiffusion whose checkpoints/humanparsing/ holds the two ONNX files. Nothing here is
OOTDiffusion's code: these are the stand-ins and the recording wrappers.

Stand-ins: `torch.cuda.set_device` (no-op); torchvision (not installed): ToTensor / Normalize / Compose;
`preprocess.openpose.run_openpose.OpenPose`: returns the job's keypoints (OOTDiffusion's own format);
`ootd.inference_ootd_hd/dc`: the diffusion models, which return no images. `Image.composite` and
`Parsing.__call__` are wrapped (not changed) to record the masks, the masked photo and the parse map.
`run_ootd.py` refuses `--model_type hd` with a category other than upper_body; those jobs run the same five
statements of its main block with its own functions (`Parsing`, `get_mask_location`).
"""

from __future__ import annotations

import json
import runpy
import sys
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(sys.argv[1]).resolve()
JOBS = json.loads(Path(sys.argv[2]).read_text())
OUT = Path(sys.argv[3])
OUT.mkdir(parents=True, exist_ok=True)

torch.cuda.set_device = lambda *args, **kwargs: None


# --- torchvision.transforms stand-in (what parsing_api uses): the benchmarks' one
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from benchlib.references import install_torchvision_stand_in  # noqa: E402

install_torchvision_stand_in()

# --- OpenPose and the diffusion models: stand-ins
CURRENT = {}


class OpenPose:
    def __init__(self, gpu_id=0):
        pass

    def __call__(self, image, resolution=384):
        assert image.size == (384, 512)
        return {"pose_keypoints_2d": [list(point) for point in CURRENT["keypoints"]]}


class _Diffusion:
    def __init__(self, gpu_id=0):
        pass

    def __call__(self, **kwargs):
        return []


for name, attributes in {
    "preprocess.openpose.run_openpose": {"OpenPose": OpenPose},
    "ootd": {},
    "ootd.inference_ootd_hd": {"OOTDiffusionHD": _Diffusion},
    "ootd.inference_ootd_dc": {"OOTDiffusionDC": _Diffusion},
}.items():
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    sys.modules[name] = module

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "run"))
sys.path.insert(0, str(REPO / "preprocess" / "humanparsing"))
import preprocess  # noqa: E402  (namespace package of the scratch copy)

sys.modules["preprocess.openpose"] = types.ModuleType("preprocess.openpose")
preprocess.openpose = sys.modules["preprocess.openpose"]
preprocess.openpose.run_openpose = sys.modules["preprocess.openpose.run_openpose"]

import preprocess.humanparsing.run_parsing as run_parsing  # noqa: E402
import utils_ootd  # noqa: E402

RECORD = {}
_parse_call = run_parsing.Parsing.__call__


def _recording_parse(self, image):
    parsed, face = _parse_call(self, image)
    RECORD["parse"] = parsed.copy()
    return parsed, face


run_parsing.Parsing.__call__ = _recording_parse
_composite = Image.composite


def _recording_composite(first, second, mask):
    RECORD["mask_gray"], RECORD["photo"], RECORD["mask"] = first.copy(), second.copy(), mask.copy()
    result = _composite(first, second, mask)
    RECORD["masked"] = result.copy()
    return result


Image.composite = _recording_composite
CATEGORIES = ["upper_body", "lower_body", "dresses"]


def run_job(job):
    RECORD.clear()
    CURRENT["keypoints"] = job["keypoints"]
    category = CATEGORIES.index(job["category"])
    if job["model_type"] == "hd" and category != 0:
        # run_ootd.py's main block, which refuses this combination, as statements of its own functions
        parsing = run_parsing.Parsing(0)
        model_img = Image.open(job["photo"]).resize((768, 1024))
        keypoints = OpenPose()(model_img.resize((384, 512)))
        model_parse, _ = parsing(model_img.resize((384, 512)))
        mask, mask_gray = utils_ootd.get_mask_location("hd", job["category"], model_parse, keypoints)
        mask = mask.resize((768, 1024), Image.NEAREST)
        mask_gray = mask_gray.resize((768, 1024), Image.NEAREST)
        Image.composite(mask_gray, model_img, mask)
        how = "run_ootd.py's statements"
    else:
        argv = ["run_ootd.py", "--model_path", job["photo"], "--cloth_path", job["photo"]]
        argv += ["--model_type", job["model_type"], "--category", str(category)]
        sys.argv = argv
        (REPO / "run" / "images_output").mkdir(exist_ok=True)
        runpy.run_path(str(REPO / "run" / "run_ootd.py"), run_name="__main__")
        how = "run_ootd.py"
    stem = job["name"]
    RECORD["parse"].save(OUT / f"{job['photo_stem']}_parse.png")
    RECORD["mask"].save(OUT / f"{stem}_mask.png")
    RECORD["mask_gray"].save(OUT / f"{stem}_mask_gray.png")
    # the masked photo is the photo with the mask's area grey: checked here for every job, stored for a few (each
    # is ~0.4 MB); the tests rebuild the others from the stored photo and mask
    photo, mask = np.asarray(RECORD["photo"]), np.asarray(RECORD["mask"])
    expected = np.where(mask[:, :, None] == 255, 127, photo).astype(np.uint8)
    assert set(np.unique(mask)) <= {0, 255} and np.array_equal(np.asarray(RECORD["masked"]), expected), stem
    RECORD["photo"].save(OUT / f"{job['photo_stem']}_photo768.png")
    if job.get("keep_masked"):
        RECORD["masked"].save(OUT / f"{stem}_masked.png")
    print(f"{stem}: {how}; masked photo = photo with the mask grey: checked", flush=True)


if __name__ == "__main__":
    import os

    os.chdir(REPO / "run")
    for job in JOBS:
        run_job(job)
