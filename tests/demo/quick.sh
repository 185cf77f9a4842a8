#!/usr/bin/env bash
# CI's run of the README's main command: `scripts/demo --quick` on a fresh data directory, with
# the binaries of this build. The demo itself fails when the served accuracy is below 0.80.
# Usage: tests/demo/quick.sh BUILD_DIR
set -euo pipefail
BUILD_DIR=$(cd "$1" && pwd)
HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/skiff-demo-XXXXXX")
trap 'rm -rf "$HOME_DIR"' EXIT
cd "$(dirname "$0")/../.."
SKIFF_HOME="$HOME_DIR" SKIFF_DEMO_NO_BUILD=1 BUILD_DIR="$BUILD_DIR" scripts/demo --quick
