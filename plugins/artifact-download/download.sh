#!/usr/bin/env bash
# Unpacks <artifact dir>/<name>.tar.gz into ARC_ARG_PATH, refusing members that would land outside it.
set -euo pipefail
name="$ARC_ARG_NAME"; path="${ARC_ARG_PATH:-.}"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || { echo "artifact-download: bad artifact name" >&2; exit 2; }
archive="$ARCENTRA_ARTIFACT_DIR/$name.tar.gz"
[ -f "$archive" ] || { echo "artifact-download: no artifact named $name in this run" >&2; exit 2; }
ws="$(realpath -- "$ARCENTRA_WORKSPACE")"
dest="$(realpath -m -- "$path")"
case "$dest" in "$ws"|"$ws"/*) ;; *) echo "artifact-download: $path is outside the workspace" >&2; exit 2;; esac
# Zip-slip: no absolute names, no .. components, no links (a link could point the next member outside).
while IFS= read -r line; do
  kind="${line:0:1}"
  if [ "$kind" = l ] || [ "$kind" = h ]; then echo "artifact-download: refusing link member in $name" >&2; exit 2; fi
done < <(tar -P -tvzf "$archive")
while IFS= read -r member; do
  case "/$member/" in */../*) echo "artifact-download: refusing member $member" >&2; exit 2;; esac
  case "$member" in /*) echo "artifact-download: refusing absolute member $member" >&2; exit 2;; esac
done < <(tar -P -tzf "$archive")
mkdir -p -- "$dest"
tar -C "$dest" --no-same-owner --no-same-permissions -xzf "$archive"
echo "downloaded artifact $name into ${path}"
