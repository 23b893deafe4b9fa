#!/usr/bin/env bash
# Builds a minimal Python image offline (no registry needed) from Debian packages and imports it
# into podman (and docker, when a daemon answers). Used by .ci/run and by developers on machines
# that cannot pull python:3.12-slim. Idempotent: an existing image is kept unless FORCE=1.
set -euo pipefail

IMAGE=${MCP_BRIDGE_TEST_IMAGE:-localhost/codemode-python:test}
SUITE=${SUITE:-bookworm}
ROOT=$(mktemp -d /tmp/codemode-pyroot.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }

if have podman && [ "${FORCE:-0}" != 1 ] && podman image exists "$IMAGE"; then
  echo "test-image: $IMAGE already present in podman" >&2
  exit 0
fi

mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(grep -m1 -oP '^URIs:\s*\K\S+' /etc/apt/sources.list.d/debian.sources || true)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(grep -m1 -oP '^deb\s+(\[[^]]*\]\s+)?\K\S+' /etc/apt/sources.list || true)
fi
[ -n "$mirror" ] || { echo "test-image: cannot find a Debian mirror in /etc/apt" >&2; exit 1; }

echo "test-image: debootstrap $SUITE (python3) into $ROOT" >&2
debootstrap --variant=minbase --include=python3 "$SUITE" "$ROOT" "$mirror" >/dev/null
# Trim what a Python sandbox never needs; keeps the image small and the import fast.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* \
  "$ROOT"/usr/share/locale/* "$ROOT"/var/lib/apt/lists/*

if have podman; then
  tar -C "$ROOT" -c . | podman import --change 'CMD ["python3"]' - "$IMAGE" >/dev/null
  echo "test-image: imported $IMAGE into podman" >&2
fi
if have docker && docker info >/dev/null 2>&1; then
  tar -C "$ROOT" -c . | docker import --change 'CMD ["python3"]' - "$IMAGE" >/dev/null
  echo "test-image: imported $IMAGE into docker" >&2
fi
