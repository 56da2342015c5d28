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

# --dev: the page test drives Debian's headless Chromium through chromedriver (needs root for apt)
if [ "${1:-}" = "--dev" ] && ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: the browser test needs chromium and chromium-driver (/usr/bin/chromium," \
            "/usr/bin/chromedriver): run as root, or 'sudo apt-get install -y chromium chromium-driver'," \
            "or skip that test: HUMANPARSE_SKIP_BROWSER=1 python3 -m pytest -q (the rest is installed)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
