#!/usr/bin/env bash
# Installs the npm dependencies exactly as package-lock.json pins them.
# `npm ci` is tried first. npm records only the host platform's optional
# native binaries in a lockfile (npm/cli#4828, #8320), and the registry
# mirror here serves no other platforms' builds, so `npm ci` rejects the
# lockfile as "out of sync" on such machines; then `npm install --no-save`
# installs the same pinned versions without rewriting the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! npm ci --no-audit --no-fund 2>/tmp/batchgate-npm-ci.log; then
  if grep -q "can only install packages when your package.json and package-lock.json" /tmp/batchgate-npm-ci.log; then
    echo "npm ci refused the lockfile (platform-specific optional binaries, npm/cli#4828); installing the pinned versions with npm install --no-save"
    npm install --no-audit --no-fund --no-save
  else
    cat /tmp/batchgate-npm-ci.log >&2
    exit 1
  fi
fi
