#!/usr/bin/env bash
# Installs what the tests need on Debian/Ubuntu; safe to run again (it skips what is there).
#   chromium    Debian's Chromium for Playwright (its own browser download is never used) and,
#               through /usr/lib/chromium/vk_swiftshader_icd.json, the SwiftShader Vulkan driver
#               that Dawn uses in Node (src/engine/node-gpu.ts).
#   libvulkan1  The Vulkan loader that Dawn (the npm `webgpu` package) opens.
#   mesa-vulkan-drivers (Mesa 24 or later)  Lavapipe, the CPU Vulkan driver with shader-f16, on which
#               the f16-activation tests run (src/engine/node-gpu.ts). Debian 12's own Mesa 22 is too
#               old for Dawn, so on bookworm it comes from bookworm-backports (Mesa 25).
# Then `npm ci` installs the locked npm packages.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(chromium libvulkan1)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  if ! command -v apt-get >/dev/null; then
    echo "setup: apt-get not found; install ${missing[*]} with your package manager" >&2
    exit 1
  fi
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "setup: installing ${missing[*]} needs root; run as root or install sudo" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
  echo "setup: ${packages[*]} already installed"
fi

# Lavapipe reports Vulkan 1.4 from Mesa 24 on; Debian 12's reports 1.3.
lavapipe_icd=/usr/share/vulkan/icd.d/lvp_icd.json
lavapipe_ok() {
  [[ -f $lavapipe_icd ]] && grep -Eq '"api_version": *"(1\.([4-9]|[1-9][0-9])|[2-9])\.' "$lavapipe_icd"
}
if lavapipe_ok; then
  echo "setup: lavapipe (Mesa 24+) already installed"
elif command -v apt-get >/dev/null; then
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  target=()
  if [[ $codename == bookworm ]]; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "setup: adding bookworm-backports for Mesa 25"
      printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' 'Components: main' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | "${sudo[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
    fi
    target=(-t bookworm-backports)
  fi
  echo "setup: installing mesa-vulkan-drivers ${target[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${target[@]}" mesa-vulkan-drivers
  lavapipe_ok || { echo "setup: lavapipe is still older than Mesa 24; the f16 tests need it" >&2; exit 1; }
else
  echo "setup: install Mesa 24 or later (lavapipe) for the f16 tests" >&2
  exit 1
fi

npm ci
