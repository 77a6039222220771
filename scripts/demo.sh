#!/usr/bin/env bash
# The micrun demo, for a fresh Debian 12 machine as root: installs what is missing, builds,
# links the binaries into /usr/local/bin, starts a private containerd with the mica runtime and
# micad-sim (unless a real micad runs), builds and imports an RTOS image, runs it with
# `ctr run --runtime io.containerd.mica.v2` showing its console, and cleans up everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source scripts/lib/deps.sh
ensure_node
ensure_apt_packages
build_all

# The shim is its native launcher (it runs dist/containerd-shim-mica-v2.js beside it as needed).
ln -sf "$repo/dist/containerd-shim-mica-v2" /usr/local/bin/containerd-shim-mica-v2
for bin in micad-sim micrun; do
  ln -sf "$repo/dist/$bin.js" "/usr/local/bin/$bin"
done

work=$(mktemp -d /tmp/micrun-demo.XXXXXX)
ctd_pid=
sim_pid=
cleanup() {
  set +e
  if [[ -n $ctd_pid ]]; then
    ctr_ task rm -f demo >/dev/null 2>&1
    ctr_ container rm demo >/dev/null 2>&1
    kill -TERM "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null
  fi
  # The namespace's shim daemon waits for the next container (shim.when_empty = "wait"): stop it
  # by PID — the daemons whose socket lies in this demo's shim socket dir.
  for cmdline in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -q -- "-socket $work/s/"; then
      pid=${cmdline#/proc/}; pid=${pid%/cmdline}
      kill -TERM "$pid" 2>/dev/null
    fi
  done
  [[ -n $sim_pid ]] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  grep -o " $work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf "$work"
}
trap cleanup EXIT

# micad: a real one if it is running, else micad-sim on a private socket dir.
if [[ -S /run/mica/mica-create.socket ]] && [[ -f /run/micad.pid ]] && kill -0 "$(cat /run/micad.pid)" 2>/dev/null; then
  mica_dir=/run/mica
  echo "==> using the running micad (/run/mica)"
else
  mica_dir=$work/mica
  echo "==> starting micad-sim (socket dir $mica_dir)"
  micad-sim --socket-dir "$mica_dir" --state-dir "$work/sim" 2>"$work/micad-sim.log" &
  sim_pid=$!
  for _ in $(seq 100); do [[ -S $mica_dir/mica-create.socket ]] && break; sleep 0.1; done
  [[ -S $mica_dir/mica-create.socket ]] || { cat "$work/micad-sim.log"; exit 1; }
fi

echo "==> starting a private containerd ($work/containerd.sock)"
cat >"$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
TOML
MICRUN_MICA_SOCKET_DIR=$mica_dir MICRUN_STATE_DIR=$work/micrun MICRUN_SHIM_SOCKET_DIR=$work/s \
  containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
ctd_pid=$!
ctr_() { ctr --address "$work/containerd.sock" "$@"; }
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done

echo "==> building the demo image from test/fixtures/firmware/build/hello.elf"
micrun image build --firmware test/fixtures/firmware/build/hello.elf --name localhost/micrun-demo:latest \
  -o "$work/demo.tar"
ctr_ image import "$work/demo.tar" >/dev/null

echo "==> ctr run --rm --runtime io.containerd.mica.v2 localhost/micrun-demo:latest demo"
echo "------------------------------ RTOS console ------------------------------"
set +e
ctr_ run --rm --runtime io.containerd.mica.v2 localhost/micrun-demo:latest demo
status=$?
set -e
echo "--------------------------------------------------------------------------"
echo "==> the firmware exited with status $status; cleaning up"
exit "$status"
