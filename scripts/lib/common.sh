# Shared by scripts/studio, scripts/test and scripts/make-demo: Debian packages and the build.
# shellcheck shell=bash

DPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DPO_PRESET=${DPO_PRESET:-release}
DPO_BUILD_DIR="$DPO_ROOT/build/$DPO_PRESET"

# Everything the build, the tests and the studio need, as Debian 12 packages.
DPO_PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libtorch-dev libopenblas0-openmp libgloo-dev
  qt6-base-dev libgl-dev libqcustomplot-dev
  libsentencepiece-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev
  libgtest-dev libbenchmark-dev zlib1g-dev libxxhash-dev
  clang-format-14 clang-tidy-14 clang-14 libclang-rt-14-dev
  xvfb xauth
)

dpo_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

dpo_install_packages() {
  local missing=() p
  for p in "${DPO_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "       run this script as root, or install them first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  dpo_log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

dpo_build() {
  dpo_log "configuring ($DPO_PRESET) in $DPO_BUILD_DIR"
  cmake --preset "$DPO_PRESET" -S "$DPO_ROOT" >/dev/null
  dpo_log "building ${*:-everything}"
  if [ $# -gt 0 ]; then
    cmake --build "$DPO_BUILD_DIR" --parallel "$(nproc)" --target "$@"
  else
    cmake --build "$DPO_BUILD_DIR" --parallel "$(nproc)"
  fi
}
