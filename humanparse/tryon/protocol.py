"""What a try-on preprocessing protocol is, so that each one (OOTDiffusion/IDM-VTON's masks today; HR-VITON's
parse-agnostic map or CatVTON's masker later) is one module under `humanparse.tryon.protocols`.

A protocol names the parsing networks it needs (`roles`), turns a decoded photo into the picture it keeps and the
picture the networks parse (`prepare`), merges the networks' label maps into its own map (`combine`), and makes
its output files from that map, the picture and the body keypoints (`outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class NetworkRole:
    """One parsing network a protocol runs: its role name (`--atr`), the recipe whose test protocol it runs
    (and whose zoo weights are the default), and the zoo name of the file the try-on repositories ship."""

    name: str
    recipe: str
    published_file: str = ""


class TryonProtocol:
    """Base of the try-on protocols (see the module docstring)."""

    name: str = ""
    roles: Tuple[NetworkRole, ...] = ()
    suffixes: Tuple[str, ...] = ()  # the files written per photo, as suffixes of its output stem

    def prepare(self, image: Image.Image) -> Tuple[np.ndarray, np.ndarray]:
        """(the picture kept for `outputs`, the BGR uint8 picture every network parses) of a decoded photo."""
        raise NotImplementedError

    def combine(self, labels: Dict[str, np.ndarray]) -> np.ndarray:
        """The protocol's label map from each role's (H, W) label map of the parsed picture."""
        raise NotImplementedError

    def outputs(
        self, parse: np.ndarray, photo: np.ndarray, keypoints: Optional[np.ndarray]
    ) -> Dict[str, Image.Image]:
        """suffix -> image to write losslessly, for every suffix in `suffixes`."""
        raise NotImplementedError
