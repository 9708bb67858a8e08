#!/usr/bin/env python3
"""Instructions by function for one region of bench/insnprof.c's output.

    python3 bench/profile.py ELF PROFILE REGION [MINUS_REGION] [--top N]

Sums the counts of REGION by the function (symbol from `arm-none-eabi-nm -n -C`)
holding each address; with MINUS_REGION, prints REGION minus that region per
function (e.g. the invocation check minus the bare verify: the overhead).
"""
import bisect, subprocess, sys
from collections import Counter

args = [a for a in sys.argv[1:] if not a.startswith("--")]
top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 30
if "--top" in sys.argv:
    args.remove(str(top))
elf, prof, region = args[0], args[1], int(args[2])
minus = int(args[3]) if len(args) > 3 else None

syms = []
for line in subprocess.run(["arm-none-eabi-nm", "-n", "-C", elf], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    parts = line.split(maxsplit=2)
    if len(parts) == 3 and parts[1] in "tTwW":
        syms.append((int(parts[0], 16) & ~1, parts[2]))
addrs = [a for a, _ in syms]

def by_function(r):
    c = Counter()
    for line in open(prof):
        reg, pc, n = line.split()
        if int(reg) == r:
            i = bisect.bisect_right(addrs, int(pc, 16)) - 1
            c[syms[i][1] if i >= 0 else "?"] += int(n)
    return c

c = by_function(region)
if minus is not None:
    c.subtract(by_function(minus))
total = sum(c.values())
print(f"region {region}" + (f" minus region {minus}" if minus is not None else "") + f": {total} instructions")
for name, n in sorted(c.items(), key=lambda kv: -kv[1])[:top]:
    if n:
        print(f"{n:>10}  {100 * n / total:5.1f} %  {name[:110]}")
