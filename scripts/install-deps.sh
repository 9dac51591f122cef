#!/usr/bin/env bash
# Install the Debian packages examgate needs to build and test, if missing.
# Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential   # cc for the C example plugin and the broken test plugins
  pkg-config
  ca-certificates
  postgresql        # PostgreSQL 15: the server's tests run each suite against a throwaway one too
  pcscd             # the real PC/SC daemon the ID card tests and demo use
  libpcsclite-dev   # linked by the pcsc crate
  vsmartcard-vpcd   # virtual PC/SC readers a simulated card connects to
  procps            # pgrep/pkill, used by tests to manage pcscd
  libclang-dev      # bindgen in nokhwa's V4L2 bindings (drivers/webcam)
  chromium          # the browser tests drive Debian's chromium (never a downloaded build)
  fonts-noto-core   # Noto Sans, Naskh Arabic (Arabic, Uyghur, Kazakh) and Sans Mongolian for the seat page
  fonts-noto-cjk    # Noto Sans CJK: Chinese, Japanese, Korean
  python3-venv      # scripts/install-playwright.sh makes a virtualenv for Playwright
  faketime          # libfaketime: make test-clock runs the date-sensitive tests a year ahead and before midnight
  tzdata            # make test-clock's midnight is Beijing's (TZ=Asia/Shanghai)
  sqlite3           # the README's exam walk: an auditor reads the demo's audit chain and answers
  poppler-utils     # pdftotext, pdffonts, pdfimages, pdftoppm: the score sheet tests read the PDF as a reader would
  zbar-tools        # zbarimg: the score sheet tests decode its QR code with a third-party reader
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust stable (https://rustup.rs) and run again" >&2
  exit 1
fi
