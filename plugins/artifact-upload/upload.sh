#!/usr/bin/env bash
# Packs ARC_ARG_PATH (inside the workspace) into <artifact dir>/<name>.tar.gz.
set -euo pipefail
name="$ARC_ARG_NAME"; path="$ARC_ARG_PATH"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || { echo "artifact-upload: bad artifact name" >&2; exit 2; }
ws="$(realpath -- "$ARCENTRA_WORKSPACE")"
target="$(realpath -m -- "$path")"
case "$target" in "$ws"|"$ws"/*) ;; *) echo "artifact-upload: $path is outside the workspace" >&2; exit 2;; esac
[ -e "$target" ] || { echo "artifact-upload: $path does not exist" >&2; exit 2; }
mkdir -p -- "$ARCENTRA_ARTIFACT_DIR"
rel="${target#"$ws"}"; rel="${rel#/}"; [ -n "$rel" ] || rel=.
tar -C "$ws" -czf "$ARCENTRA_ARTIFACT_DIR/$name.tar.gz.tmp" -- "$rel"
mv -- "$ARCENTRA_ARTIFACT_DIR/$name.tar.gz.tmp" "$ARCENTRA_ARTIFACT_DIR/$name.tar.gz"
echo "uploaded artifact $name ($(stat -c %s "$ARCENTRA_ARTIFACT_DIR/$name.tar.gz") bytes)"
