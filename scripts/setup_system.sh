#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when they are missing.
# Usage: scripts/setup_system.sh ocr|test
#   ocr  : tesseract with English and Spanish data and orientation detection (OCR of scanned pages)
#   test : ocr + PostgreSQL server, Chromium and its driver (integration tests)
set -euo pipefail
profile="${1:-ocr}"

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for p in "$@"; do have_pkg "$p" || need+=("$p"); done; }

want tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-osd
if [ "$profile" = "test" ]; then
  want postgresql chromium chromium-driver
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
