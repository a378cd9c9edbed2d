#!/usr/bin/env bash
# Builds the Debian package (Release, installed under /usr) into build-pkg/.
#   tools/package.sh           build the .deb
#   tools/package.sh --check   and install it with dpkg, run shegongd --version, remove it
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
SG_PACKAGES+=(dpkg-dev)
sg_install_deps
cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DSHEGONG_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build-pkg -j"$(nproc)" >/dev/null
(cd build-pkg && cpack -G DEB >/dev/null)
DEB=$(ls build-pkg/shegong_*.deb | head -1)
echo "built $DEB"
if [ "${1:-}" = --check ]; then
  dpkg -i "$DEB" >/dev/null
  /usr/bin/shegongd --version
  /usr/bin/shegong --version
  getent passwd shegong >/dev/null
  test -f /lib/systemd/system/shegongd.service
  dpkg -r shegong >/dev/null
  echo "package installs, runs and removes cleanly"
fi
