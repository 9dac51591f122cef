#!/usr/bin/env bash
# Python Playwright for the browser tests, in a virtualenv of its own
# (target/playwright by default, or $PLAYWRIGHT_VENV). It drives Debian's
# chromium (/usr/bin/chromium, from scripts/install-deps.sh): no browser is
# downloaded, `playwright install` is never run. Safe to run again: it only
# calls pip when the wanted versions are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${PLAYWRIGHT_VENV:-target/playwright}
REQUIREMENTS=web/tests/requirements.txt

if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "$REQUIREMENTS" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        r = Requirement(line)
        assert r.specifier.contains(version(r.name)), r
PY
then
  echo "installing Python packages for the browser tests into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check packaging -r "$REQUIREMENTS"
fi
