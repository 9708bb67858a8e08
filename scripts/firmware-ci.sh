#!/usr/bin/env bash
# Firmware CI: tools, builds for the three Cortex-M targets (M4F, M3, M33),
# the test-vectors images, the one-algorithm images, the core-only sysroot
# build (proves no `alloc` anywhere in the graph), clippy, and the static
# budgets; builds the QEMU instruction-count plugin (firmware/target/libinsncount.so).
# Copies the host test's images (host-harness/cli/tests/firmware_qemu.rs) to
# firmware/target/images/ and writes their paths to
#   firmware/target/firmware-elf.env   ARMORIQ_FIRMWARE_ELF=, _ELF_M3=, _ELF_M33=,
#                                      _VECTORS_ELF=, _VECTORS_ELF_M3=, _VECTORS_ELF_M33=,
#                                      _GATEWAY_ELF=, _NO_RECEIPTS_ELF= (the ES256-only image:
#                                      protocol revision 1), _ED25519_RECEIPTS_ELF= (M4F,
#                                      Ed25519 receipts: the comparison image of issue 28)
# and prints them as `export ...` lines (also appended to $GITHUB_ENV if set).
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
targets=(thumbv7em-none-eabihf thumbv7m-none-eabi thumbv8m.main-none-eabihf)
rustup target add "${targets[@]}" >/dev/null 2>&1 || rustup target add "${targets[@]}"
have_nightly=0
if [ "${ARMORIQ_SKIP_CORECHECK:-0}" != 1 ] && rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup +nightly component add rust-src >/dev/null 2>&1 && have_nightly=1
fi
# defmt-print (decodes the defmt log; `cargo run` pipes through it when present)
# takes ~1.5 min to install and the tests do not need it, so it is not installed here.

cd "$fw"
# The firmware is its own workspace; keep the caller's flags out of it.
unset RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET

step "build thumbv7em-none-eabihf (Cortex-M4F, mps2-an386; ES256 through p256-cm4), release"
cargo build --release --target thumbv7em-none-eabihf
step "build thumbv7m-none-eabi (Cortex-M3, mps2-an385; ES256 through RustCrypto p256), release"
cargo build --release --target thumbv7m-none-eabi
step "build thumbv8m.main-none-eabihf (Cortex-M33, mps2-an505; ES256 through p256-cm4), release"
cargo build --release --target thumbv8m.main-none-eabihf
step "test-vectors images (Wycheproof and RFC 6979 through p256-cm4 on the M4F and M33, RustCrypto on the M3), release"
for t in thumbv7em-none-eabihf thumbv7m-none-eabi thumbv8m.main-none-eabihf; do
  cargo build --release --target "$t" --features test-vectors --target-dir target/vectors
done
step "gateway image (M4F; the development EdDSA key, issuer armoriq-gateway: armoriq serve --device qemu:ELF tests)"
# keys/trusted-gateway.json: the key of firmware/keys/dev/ed25519.pem, which the
# gateway end-to-end test installs as the gateway's IAP key, and the gateway's
# iss/aud (armoriq-gateway / armoriq-proxy).
ARMORIQ_FIRMWARE_KEYS="$fw/keys/trusted-gateway.json" cargo build --release --target thumbv7em-none-eabihf \
  --target-dir target/gateway
step "Ed25519-receipt image (M4F, feature receipts-ed25519: EdDSA-only deployments; the comparison image)"
# curve25519-dalek and subtle at opt-level 3 for the receipt's signature
# (at z its constant-time table lookups spend ~25 % of a receipt in copies).
ed_receipts=(--no-default-features --features es256,eddsa,p256-cm4,receipts-ed25519
             --config 'profile.release.package.curve25519-dalek.opt-level=3'
             --config 'profile.release.package.subtle.opt-level=3' --target-dir target/receipts-ed25519)
ARMORIQ_FIRMWARE_KEYS="$fw/keys/trusted.json" cargo build --release --target thumbv7em-none-eabihf "${ed_receipts[@]}"
cargo clippy --release --target thumbv7em-none-eabihf "${ed_receipts[@]}" -- -D warnings
step "clippy (firmware: M4F with test-vectors, M3, M33)"
cargo clippy --release --target thumbv7em-none-eabihf --features test-vectors --target-dir target/vectors -- -D warnings
cargo clippy --release --target thumbv7m-none-eabi -- -D warnings
cargo clippy --release --target thumbv8m.main-none-eabihf -- -D warnings
step "one-algorithm images (ES256 only, EdDSA only; thumbv7em), release, clippy"
# Each with the development key of its algorithm (keys/trusted-<alg>.json):
# a key of an algorithm that is not linked in fails the build.
# They have no receipts.
size_opt=()
for a in es256 eddsa; do
  f="$a"; [ "$a" = es256 ] && f="es256,p256-cm4"
  ARMORIQ_FIRMWARE_KEYS="$fw/keys/trusted-$a.json" cargo build ${size_opt[@]+"${size_opt[@]}"} --release --target thumbv7em-none-eabihf \
    --no-default-features --features "$f" --target-dir "target/only-$a"
  ARMORIQ_FIRMWARE_KEYS="$fw/keys/trusted-$a.json" cargo clippy ${size_opt[@]+"${size_opt[@]}"} --release --target thumbv7em-none-eabihf \
    --no-default-features --features "$f" --target-dir "target/only-$a" -- -D warnings
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
fail=0
# Flash: every section that is allocated and loaded (its bytes are in the
# image: vector table, .text, .rodata, .data's initial values, and orphan
# sections such as p256-cm4's .p256-cortex-m4). RAM: .data plus the
# allocated sections that are not loaded (.bss, .uninit).
sections() {  # "name size flags" per section, from arm-none-eabi-objdump -h
  arm-none-eabi-objdump -h "$1" | while read -r idx name size _; do
    case "$idx" in [0-9]*) read -r flags; echo "$name $((16#$size)) $flags" ;; esac
  done
}
# The M4F image signs ES256 receipts through p256-cm4 (issue 28): 64 KiB
# (65,536 B) with both verify algorithms. The Ed25519-receipt image (issue 19's
# receipts, feature receipts-ed25519) keeps its 124 KiB (126,976 B). The
# one-algorithm images are built without receipts; the EdDSA-only one is
# 53 KiB (54,272 B): protocol revision 2 took it to 53,896 B.
#       name       ELF under target/                                           flash budget (B; 0: reported)
images="m4         thumbv7em-none-eabihf/release/armoriq-firmware                 65536
m4-ed25519-receipts receipts-ed25519/thumbv7em-none-eabihf/release/armoriq-firmware 126976
m3         thumbv7m-none-eabi/release/armoriq-firmware                    0
m33        thumbv8m.main-none-eabihf/release/armoriq-firmware             0
only-es256 only-es256/thumbv7em-none-eabihf/release/armoriq-firmware      49152
only-eddsa only-eddsa/thumbv7em-none-eabihf/release/armoriq-firmware      54272"
while read -r name elf budget; do
  read -r flash ram parts < <(sections "target/$elf" | awk '
    $0 ~ /ALLOC/ && $0 ~ /LOAD/ && $2 > 0 {f += $2; p = p sprintf("%s %d,", $1, $2)}
    $0 ~ /ALLOC/ && ($0 !~ /LOAD/ || $1 == ".data") {r += $2}
    END {sub(/,$/, "", p); gsub(/ /, "=", p); print f + 0, r + 0, p}')
  if [ "$budget" -gt 0 ]; then
    verdict=$([ "$flash" -le "$budget" ] && echo met || echo "NOT MET")
    [ "$verdict" = met ] || fail=1
    verdict="budget $budget B: $verdict"
  else
    verdict="(reported)"
  fi
  printf '%-19s flash %6d B (%.1f KiB: %s)  %s\n' "$name" "$flash" "$(awk "BEGIN{print $flash/1024}")" \
    "${parts//,/ + }" "$verdict"
  printf '%-19s static RAM %6d B (.data + .bss + .uninit); heap: none (no allocator linked)\n' "$name" "$ram"
done <<< "$images"
# QEMU < 8.2 (Debian 12: 7.2) raises UNDEF on a 32-bit LDM with one register
# and no writeback (UNPREDICTABLE in Armv7-M); vendor/p256-cm4 has the one
# such load written as LDR. Any such LDM in an image would HardFault it.
for elf in thumbv7em-none-eabihf thumbv8m.main-none-eabihf vectors/thumbv7em-none-eabihf; do
  if arm-none-eabi-objdump -d "target/$elf/release/armoriq-firmware" | grep -aE 'ldmia\.w\s+r[0-9]+, \{r[0-9]+\}$'; then
    echo "error: $elf has a single-register LDM (UNDEF under QEMU 7.2)" >&2
    exit 1
  fi
done
echo "no single-register T32 LDM in the p256-cm4 images (QEMU 7.2 runs them)"
step "a P-256 key off the curve stops the M4F image at boot (exit 3)"
# keys/test-off-curve.json: the development ES256 key with y's last bit flipped.
ARMORIQ_FIRMWARE_KEYS="$fw/keys/test-off-curve.json" cargo build --release --target thumbv7em-none-eabihf \
  --target-dir target/off-curve
status=0
timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native \
  -serial null -kernel target/off-curve/thumbv7em-none-eabihf/release/armoriq-firmware >/dev/null || status=$?
if [ "$status" != 3 ]; then
  echo "error: the image with a key off the curve exited with $status, not 3 (key refused at boot)" >&2
  exit 1
fi
echo "refused at boot: exit status 3"
echo "stack high-water mark and instruction counts (exact, with the plugin): measured on the device by"
echo "  cargo test -p armoriq-cli --test firmware_qemu -- --nocapture"
echo "  (a one-algorithm image: ARMORIQ_FIRMWARE_ALGS=es256 ARMORIQ_FIRMWARE_ELF_M3= ARMORIQ_FIRMWARE_ELF_M33= \\"
echo "   ARMORIQ_FIRMWARE_ELF=$fw/target/only-es256/thumbv7em-none-eabihf/release/armoriq-firmware)"

# The host test's images, copied out of the build directories so that CI can
# remove those (.ci/run) and keep only these.
mkdir -p "$fw/target/images"
env_file="$fw/target/firmware-elf.env"
: > "$env_file"
for pair in ELF:thumbv7em-none-eabihf ELF_M3:thumbv7m-none-eabi ELF_M33:thumbv8m.main-none-eabihf \
            VECTORS_ELF:vectors/thumbv7em-none-eabihf VECTORS_ELF_M3:vectors/thumbv7m-none-eabi \
            VECTORS_ELF_M33:vectors/thumbv8m.main-none-eabihf \
            GATEWAY_ELF:gateway/thumbv7em-none-eabihf NO_RECEIPTS_ELF:only-es256/thumbv7em-none-eabihf \
            ED25519_RECEIPTS_ELF:receipts-ed25519/thumbv7em-none-eabihf; do
  var="ARMORIQ_FIRMWARE_${pair%%:*}"
  dir="${pair#*:}"
  copy="$fw/target/images/${dir//\//-}.elf"
  cp "$fw/target/$dir/release/armoriq-firmware" "$copy"
  echo "$var=$copy" >> "$env_file"
done
[ -n "${GITHUB_ENV:-}" ] && cat "$env_file" >> "$GITHUB_ENV"
step "done"
sed 's/^/export /' "$env_file"
if [ "$fail" = 1 ] && [ "${ARMORIQ_ENFORCE_BUDGETS:-0}" = 1 ]; then
  echo "a static budget is not met (ARMORIQ_ENFORCE_BUDGETS=1)" >&2
  exit 1
fi
