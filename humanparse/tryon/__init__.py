"""Try-on inputs made exactly as the try-on models were trained on them, above `humanparse.inference`.

* `protocol`: what a preprocessing protocol is (`TryonProtocol`, `NetworkRole`);
* `protocols/ootd.py`: OOTDiffusion / IDM-VTON's parse map (ATR + neck) and agnostic masks;
* `keypoints`: OpenPose body keypoints from OOTDiffusion's or OpenPose/VITON-HD's JSON;
* `runner`: the networks of a protocol on the predict pipeline (`build_tryon_predictor`, `TryonOutputs`).

    from humanparse.tryon import OotdProtocol, build_tryon_predictor
    tryon = build_tryon_predictor(OotdProtocol("upper_body", "hd"), {"atr": "parsing_atr.onnx",
                                                                       "lip": "parsing_lip.onnx"})
    files = tryon("person.jpg", keypoints)   # {"_parse.png": PIL image, "_mask.png": ..., ...}
"""

from humanparse.tryon.protocol import NetworkRole, TryonProtocol
from humanparse.tryon.protocols.ootd import OotdProtocol
from humanparse.tryon.runner import TryonOutputs, TryonPredictor, build_tryon_predictor

PROTOCOLS = {OotdProtocol.name: OotdProtocol}

__all__ = [
    "NetworkRole",
    "OotdProtocol",
    "PROTOCOLS",
    "TryonOutputs",
    "TryonPredictor",
    "TryonProtocol",
    "build_tryon_predictor",
]
