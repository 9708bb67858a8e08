#!/usr/bin/env bash
# Cargo runner: boots the firmware ELF in QEMU.
#   thumbv7em-none-eabihf -> mps2-an386 (Cortex-M4F), thumbv7m-none-eabi -> mps2-an385 (Cortex-M3),
#   thumbv8m.main-none-eabihf -> mps2-an505 (Cortex-M33)
# UART0 (the request/response link) listens on tcp 127.0.0.1:$ARMORIQ_UART_PORT
# (default 4444): `armoriq device verify --tcp 127.0.0.1:4444 ...`.
# The defmt log arrives on stdout over semihosting; it is decoded with
# defmt-print when that is installed (`cargo install defmt-print --locked`).
set -euo pipefail
elf="$1"; shift
machine=mps2-an386; cpu=cortex-m4
case "$elf" in
  *thumbv7m-none-eabi/*) machine=mps2-an385; cpu=cortex-m3 ;;
  *thumbv8m.main-none-eabihf/*) machine=mps2-an505; cpu=cortex-m33 ;;
esac
port="${ARMORIQ_UART_PORT:-4444}"
qemu=(qemu-system-arm -M "$machine" -cpu "$cpu" -nographic -monitor none
      -semihosting-config enable=on,target=native
      -serial "tcp:127.0.0.1:$port,server=on,wait=off" -kernel "$elf" "$@")
echo "armoriq-firmware on $machine: UART0 at tcp 127.0.0.1:$port" >&2
if command -v defmt-print >/dev/null 2>&1; then
  "${qemu[@]}" | defmt-print -e "$elf"
else
  echo "(defmt-print not installed: raw defmt frames follow on stdout)" >&2
  exec "${qemu[@]}"
fi
