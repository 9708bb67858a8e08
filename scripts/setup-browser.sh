#!/usr/bin/env bash
# The console's browser test needs headless Chromium and chromedriver from
# Debian (never a browser a test tool downloads). Installs them with apt-get
# when missing; prints where they are. Called by scripts/test.sh and .ci/run.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "browser: $(command -v chromium), $(command -v chromedriver)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: chromium/chromedriver missing and no apt-get; the console browser test will skip (fail under CI=true)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    echo "browser: chromium/chromedriver missing and not root (no sudo): apt-get install chromium chromium-driver; the console browser test will skip (fail under CI=true)" >&2
    exit 0
  fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
echo "browser: $(command -v chromium), $(command -v chromedriver)"
