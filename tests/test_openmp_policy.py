"""`predict` and `tryon` let torch's OpenMP threads sleep when idle (`OMP_WAIT_POLICY=PASSIVE`) unless the user
chose a policy; set before torch loads, since the OpenMP runtime reads it only then."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import os, sys\n"
    "{before}"
    "from humanparse.cli.options import passive_openmp_threads\n"
    "passive_openmp_threads()\n"
    "print(os.environ.get('OMP_WAIT_POLICY', 'unset'))\n"
)


@pytest.mark.parametrize(
    "given, torch_first, expected",
    [(None, False, "PASSIVE"), ("ACTIVE", False, "ACTIVE"), (None, True, "unset")],
)
def test_the_wait_policy_is_passive_unless_chosen_or_too_late(given, torch_first, expected):
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = PROBE.format(before="import torch\n" if torch_first else "")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == expected


def test_predict_and_tryon_set_it_before_importing_torch():
    import inspect

    from humanparse.cli import predict, tryon

    for module in (predict, tryon):
        body = inspect.getsource(module.run)
        assert body.index("passive_openmp_threads()") < body.index("import torch")
