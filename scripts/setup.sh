#!/usr/bin/env bash
# Install humanparse into the current Python: `bash scripts/setup.sh` (runtime) or `--dev` (tests, lint, ONNX).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"

# A plain `pip install torch` can pull a multi-GB CUDA build; pin the release this project is tested with
# when no torch is installed yet. An existing torch in the supported range is kept.
if ! "$python" -c "import torch" >/dev/null 2>&1; then
    "$python" -m pip install --quiet "torch==2.13.0"
fi
"$python" -m pip install --quiet --disable-pip-version-check -e ".${extra}"
