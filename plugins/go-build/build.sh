#!/usr/bin/env bash
# Builds ARC_ARG_PACKAGES (default ./...) after checking the agent's Go is at least ARC_ARG_GO_VERSION.
set -euo pipefail
if ! command -v go >/dev/null; then echo "go-build: no go toolchain on this agent" >&2; exit 127; fi
have="$(go env GOVERSION | sed 's/^go//')"
want="${ARC_ARG_GO_VERSION:-}"
if [ -n "$want" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
  echo "go-build: go $have is older than the requested $want" >&2; exit 2
fi
args=(build)
if [ -n "${ARC_ARG_OUTPUT:-}" ]; then mkdir -p -- "$ARC_ARG_OUTPUT"; args+=(-o "$ARC_ARG_OUTPUT/"); fi
# The package list is split into words on purpose (several patterns); it is data, never evaluated.
go "${args[@]}" ${ARC_ARG_PACKAGES:-./...}
