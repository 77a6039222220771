#!/usr/bin/env bash
# Builds the firmware fixtures (test/fixtures/firmware/*.c) for QEMU's mps2-an385 (Cortex-M3)
# with arm-none-eabi-gcc, no libc. Outputs test/fixtures/firmware/build/{echo,poll,flood,flood-forever,hello,exit-0,exit-3}.elf.
# Idempotent: objects are rebuilt only when a source is newer (make-like check below).
# Extra exit codes: EXIT_CODES="0 3 42" npm run build:firmware
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/test/fixtures/firmware"
out="$src/build"
cc="${CROSS_COMPILE:-arm-none-eabi-}gcc"
exit_codes="${EXIT_CODES:-0 3}"

command -v "$cc" >/dev/null || {
  echo "build-firmware: $cc not found (apt-get install gcc-arm-none-eabi)" >&2
  exit 1
}
mkdir -p "$out"

cflags=(-mcpu=cortex-m3 -mthumb -Os -g -Wall -Wextra -Werror -std=c11
  -ffreestanding -fno-common -ffunction-sections -fdata-sections)
ldflags=(-nostdlib -T "$src/mps2-an385.ld" -Wl,--gc-sections -Wl,--no-warn-rwx-segments)
common=("$src/startup.c" "$src/board.c")
deps=("${common[@]}" "$src/board.h" "$src/mps2-an385.ld" "$0")

# link <output.elf> <main.c> [extra cflags...]: skipped when the ELF is newer than every input.
link() {
  local elf="$1" main="$2"
  shift 2
  local stale=0 f
  [[ -f "$elf" ]] || stale=1
  for f in "${deps[@]}" "$main"; do
    [[ "$f" -nt "$elf" ]] && stale=1
  done
  if ((stale)); then
    "$cc" "${cflags[@]}" "$@" "${common[@]}" "$main" "${ldflags[@]}" -o "$elf.tmp"
    mv "$elf.tmp" "$elf"
    echo "build-firmware: built ${elf#"$root"/}" >&2
  fi
}

link "$out/echo.elf" "$src/echo.c"
link "$out/poll.elf" "$src/poll.c"
link "$out/flood.elf" "$src/flood.c"
link "$out/flood-forever.elf" "$src/flood.c" -DFLOOD_LINES=0
link "$out/hello.elf" "$src/hello.c"
for code in $exit_codes; do
  [[ "$code" =~ ^[0-9]+$ ]] || { echo "build-firmware: bad exit code '$code'" >&2; exit 1; }
  link "$out/exit-$code.elf" "$src/exit.c" "-DEXIT_CODE=$code"
done
