#!/usr/bin/env bash
# Installs the Debian packages shegong builds with, when any is missing.
# Sourced by quickstart.sh and test.sh; safe to run on its own.
set -euo pipefail

SG_PACKAGES=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
             libuv1-dev liblmdb-dev libsodium-dev libssl-dev openssl libcmocka-dev libnghttp2-dev
             protobuf-compiler python3-protobuf python3-grpcio python3-grpc-tools)

sg_missing_packages() {
  local p
  for p in "${SG_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

sg_install_deps() {
  local missing
  missing=$(sg_missing_packages)
  [ -z "$missing" ] && return 0
  echo "==> installing: $(echo $missing)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "error: need root (or sudo) to install: $missing" >&2
      return 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then sg_install_deps; fi
