# Shared by scripts/test.sh and scripts/demo.sh: install what micrun needs on Debian 12 as root.
# Idempotent and quiet when everything is already there.

APT_PACKAGES=(
  containerd runc            # the container engine under test, and runc for comparisons
  qemu-system-arm            # micad-sim runs firmware on an emulated Cortex-M
  gcc-arm-none-eabi libnewlib-arm-none-eabi   # builds test/fixtures/firmware
  busybox-static             # runc comparison image and the CRI pause image
  containernetworking-plugins  # bridge + host-local CNI for pods with their own netns (e2e cri-sandboxer)
  python3 make g++           # node-gyp builds the libmica addon
  ca-certificates
)

ensure_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    [[ "$pkg" == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
      echo "error: run as root to install apt packages (${missing[*]})" >&2
      return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

ensure_node() {
  if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
    echo "error: micrun needs Node.js >= 20 with npm on PATH" >&2
    return 1
  fi
}

# npm ci builds the native addon and the bundles (the `prepare` script); firmware is separate.
build_all() {
  if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
  else
    npm run --silent prepare
  fi
  npm run --silent build:firmware
}
