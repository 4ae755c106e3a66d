#!/usr/bin/env bash
# Checks the agent's Node.js is at least ARC_ARG_NODE_VERSION, installs, then runs `npm run <script>`.
set -euo pipefail
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then echo "node-build: no Node.js toolchain (node, npm) on this agent" >&2; exit 127; fi
have="$(node --version | sed 's/^v//')"
want="${ARC_ARG_NODE_VERSION:-}"
if [ -n "$want" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
  echo "node-build: node $have is older than the requested $want" >&2; exit 2
fi
cd -- "${ARC_ARG_PATH:-.}"
[ -f package.json ] || { echo "node-build: no package.json in ${ARC_ARG_PATH:-.}" >&2; exit 2; }
if [ "${ARC_ARG_INSTALL:-true}" != "false" ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi
npm run "${ARC_ARG_SCRIPT:-build}"
