#!/usr/bin/env bash
# Installs Debian's Prometheus for its `promtool` (idempotent): `tests/prometheus/test_rules.py` runs
# `promtool test rules` on deploy/prometheus/; and Debian's pushgateway, where the weekly loop's
# figures go (tests/assets/test_graph.py starts one on loopback). The package's own server is never started here: a
# temporary policy-rc.d refuses service starts during the install (it would listen on every interface).
set -euo pipefail
if command -v promtool >/dev/null 2>&1 && command -v prometheus-pushgateway >/dev/null 2>&1; then
  echo "promtool and pushgateway already installed: $(promtool --version 2>&1 | head -n 1)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
fi
trap 'if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
install() { apt-get install -y -q --no-install-recommends prometheus prometheus-pushgateway >/dev/null 2>&1; }
install || { apt-get update -q >/dev/null && install; }
echo "promtool installed: $(promtool --version 2>&1 | head -n 1)"
