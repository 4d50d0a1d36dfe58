#!/usr/bin/env bash
# Installs what the tests need on Debian/Ubuntu; safe to run again (it skips what is there).
#   chromium    Debian's Chromium for Playwright (its own browser download is never used) and,
#               through /usr/lib/chromium/vk_swiftshader_icd.json, the SwiftShader Vulkan driver
#               that Dawn uses in Node (src/engine/node-gpu.ts).
#   libvulkan1  The Vulkan loader that Dawn (the npm `webgpu` package) opens.
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

npm ci
