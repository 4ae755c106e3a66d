#!/usr/bin/env bash
# Clones ARC_ARG_REPO (or the run's source repo) at ARC_ARG_REF into ARC_ARG_PATH.
set -euo pipefail
repo="${ARC_ARG_REPO:-${ARCENTRA_SOURCE_REPO:-}}"
ref="${ARC_ARG_REF:-${ARCENTRA_SOURCE_REF:-}}"
path="${ARC_ARG_PATH:-.}"
depth="${ARC_ARG_DEPTH:-0}"
if [ -z "$repo" ]; then echo "git-checkout: no repository: set args.repo or source.repo" >&2; exit 2; fi
mkdir -p -- "$path"
cd -- "$path"
if [ ! -d .git ]; then git init -q . && git remote add origin -- "$repo"; fi
fetch=(git fetch -q --tags origin)
if [ "$depth" != "0" ]; then fetch+=(--depth "$depth"); fi
if [ -n "$ref" ]; then "${fetch[@]}" -- "$ref"; git checkout -q --force FETCH_HEAD; else "${fetch[@]}"; git checkout -q --force "origin/HEAD" 2>/dev/null || git checkout -q --force FETCH_HEAD; fi
echo "checked out $(git rev-parse HEAD)"
echo "commitSha=$(git rev-parse HEAD)" >> "$ARCENTRA_OUTPUT"
