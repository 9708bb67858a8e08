#!/usr/bin/env bash
# Firmware CI: tools, builds for both Cortex-M targets, the core-only sysroot
# build (proves no `alloc` anywhere in the graph), clippy, and the static
# budgets; builds the QEMU instruction-count plugin (firmware/target/libinsncount.so).
# Writes the ELF path for the host test (host-harness/tests/firmware_qemu.rs):
#   firmware/target/firmware-elf.env   ARMORIQ_FIRMWARE_ELF=<path>
# and prints `export ARMORIQ_FIRMWARE_ELF=...` (also appended to $GITHUB_ENV if set).
#
# Usage: bash scripts/firmware-ci.sh
# Env:   ARMORIQ_ENFORCE_BUDGETS=1  fail when a static budget is not met (default: report only)
#        ARMORIQ_SKIP_CORECHECK=1   skip the nightly -Zbuild-std=core build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fw="$root/firmware"
t0=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

step "tools"
need_apt=()
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null 2>&1 || need_apt+=(binutils-arm-none-eabi)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
qemu-system-arm --version | head -1
rustup target add thumbv7em-none-eabihf thumbv7m-none-eabi >/dev/null 2>&1 || rustup target add thumbv7em-none-eabihf thumbv7m-none-eabi
have_nightly=0
if [ "${ARMORIQ_SKIP_CORECHECK:-0}" != 1 ] && rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup +nightly component add rust-src >/dev/null 2>&1 && have_nightly=1
fi
# defmt-print (decodes the defmt log; `cargo run` pipes through it when present)
# takes ~1.5 min to install and the tests do not need it, so it is not installed here.

cd "$fw"
# The firmware is its own workspace; keep the caller's flags out of it.
unset RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET

step "build thumbv7em-none-eabihf (Cortex-M4F, mps2-an386), release"
cargo build --release --target thumbv7em-none-eabihf
step "build thumbv7m-none-eabi (Cortex-M3, mps2-an385), release"
cargo build --release --target thumbv7m-none-eabi
step "clippy (firmware)"
cargo clippy --release --target thumbv7em-none-eabihf -- -D warnings
step "one-algorithm images (ES256 only, EdDSA only; thumbv7em), release, clippy"
# Each with the development key of its algorithm (keys/trusted-<alg>.json):
# a key of an algorithm that is not linked in fails the build.
for a in es256 eddsa; do
  ARMORIQ_FIRMWARE_KEYS="$fw/keys/trusted-$a.json" cargo build --release --target thumbv7em-none-eabihf \
    --no-default-features --features "$a" --target-dir "target/only-$a"
  ARMORIQ_FIRMWARE_KEYS="$fw/keys/trusted-$a.json" cargo clippy --release --target thumbv7em-none-eabihf \
    --no-default-features --features "$a" --target-dir "target/only-$a" -- -D warnings
done

if [ "$have_nightly" = 1 ]; then
  step "core-only sysroot build (-Zbuild-std=core: any alloc in the graph fails)"
  cargo +nightly build --release -Zbuild-std=core --target thumbv7em-none-eabihf \
    --target-dir target/corecheck
else
  echo "SKIPPED core-only build: no nightly toolchain (or ARMORIQ_SKIP_CORECHECK=1)"
fi

step "instruction-count QEMU plugin (bench/insncount.c)"
if command -v gcc >/dev/null 2>&1; then
  gcc -shared -fPIC -O2 -Wall -o target/libinsncount.so bench/insncount.c
  echo "built firmware/target/libinsncount.so (used by the host test for exact counts)"
else
  echo "SKIPPED: no gcc; the host test then reports SysTick ticks only"
fi

step "static budgets"
size_tool=arm-none-eabi-size
command -v "$size_tool" >/dev/null 2>&1 || size_tool="$(find "$(rustc --print sysroot)" -name llvm-size -type f | head -1)"
fail=0
for t in thumbv7em-none-eabihf thumbv7m-none-eabi only-es256 only-eddsa; do
  case "$t" in
    only-*) elf="target/$t/thumbv7em-none-eabihf/release/armoriq-firmware" ;;
    *) elf="target/$t/release/armoriq-firmware" ;;
  esac
  read -r vec text rodata data bss uninit < <("$size_tool" -A "$elf" | awk '
    $1==".vector_table"{v=$2} $1==".text"{t=$2} $1==".rodata"{r=$2}
    $1==".data"{d=$2} $1==".bss"{b=$2} $1==".uninit"{u=$2}
    END{print v+0, t+0, r+0, d+0, b+0, u+0}')
  flash=$((vec + text + rodata + data))
  ram=$((data + bss + uninit))
  verdict=$([ "$flash" -le $((48 * 1024)) ] && echo met || echo "NOT MET")
  printf '%-22s flash %6d B (%.1f KiB: vectors %d + .text %d + .rodata %d + .data %d)  budget 48 KiB: %s\n' \
    "$t" "$flash" "$(awk "BEGIN{print $flash/1024}")" "$vec" "$text" "$rodata" "$data" "$verdict"
  printf '%-22s static RAM %6d B (.data %d + .bss %d + .uninit %d); heap: none (no allocator linked)\n' \
    "$t" "$ram" "$data" "$bss" "$uninit"
  [ "$verdict" = met ] || fail=1
done
echo "stack high-water mark and instruction counts (exact, with the plugin): measured on the device by"
echo "  cargo test -p armoriq-host --test firmware_qemu -- --nocapture"
echo "  (a one-algorithm image: ARMORIQ_FIRMWARE_ALGS=es256 ARMORIQ_FIRMWARE_ELF=$fw/target/only-es256/thumbv7em-none-eabihf/release/armoriq-firmware)"

elf="$fw/target/thumbv7em-none-eabihf/release/armoriq-firmware"
echo "ARMORIQ_FIRMWARE_ELF=$elf" > "$fw/target/firmware-elf.env"
[ -n "${GITHUB_ENV:-}" ] && echo "ARMORIQ_FIRMWARE_ELF=$elf" >> "$GITHUB_ENV"
step "done"
echo "export ARMORIQ_FIRMWARE_ELF=$elf"
if [ "$fail" = 1 ] && [ "${ARMORIQ_ENFORCE_BUDGETS:-0}" = 1 ]; then
  echo "a static budget is not met (ARMORIQ_ENFORCE_BUDGETS=1)" >&2
  exit 1
fi
