#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the portal test (driven by Playwright with
# executable_path=/usr/bin/chromium). Idempotent: does nothing when the binary is already there.
# Never `playwright install`: it downloads browser builds from outside the package registries.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
