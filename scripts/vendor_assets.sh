#!/usr/bin/env bash
# Install the front-end packages from the lock file and copy their dist files (with
# their .map files, which WhiteNoise's manifest storage needs) into the git-ignored
# static/vendor/. Nothing third-party is committed and nothing loads from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/bootstrap ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
vendor=static/vendor
rm -rf "$vendor"
mkdir -p "$vendor/bootstrap" "$vendor/bootstrap-icons" "$vendor/chart.js"
cp node_modules/bootstrap/dist/css/bootstrap.min.css* "$vendor/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js* "$vendor/bootstrap/"
cp node_modules/bootstrap-icons/font/bootstrap-icons.min.css "$vendor/bootstrap-icons/"
cp -r node_modules/bootstrap-icons/font/fonts "$vendor/bootstrap-icons/"
cp node_modules/chart.js/dist/chart.umd.min.js* "$vendor/chart.js/"
