# memhp guest agent. Protocol on ttyS1 (raw, no echo):
#   host:  "<id> <verb> [args…] <id>"
#   guest: "@@BEGIN <id>", the verb's output, "@@END <id> <exit status>"
# Only the verbs below exist: the host never sends shell text.
stty raw -echo 2>/dev/null
MEM=/sys/devices/system/memory

blocks() {  # shell builtins only: every fork costs milliseconds under TCG
    for d in $MEM/memory*; do
        node=none
        for l in $d/node*; do [ -e "$l" ] && node=${l##*/node}; done
        # A block the kernel removes meanwhile (virtio-mem unplug) is skipped, not garbled:
        # 2>/dev/null first, as redirections apply left to right.
        read -r state 2>/dev/null < $d/state || continue
        read -r phys 2>/dev/null < $d/phys_index || continue
        zones=; read -r zones 2>/dev/null < $d/valid_zones
        set -- $zones; IFS=,; zones="$*"; unset IFS
        echo "${d##*/memory} $state $phys $node $zones"
    done
}

setstate() {  # block, state, seconds: offlining may retry migration forever; bound it
    timeout -s INT "$3" sh -c "echo $2 > $MEM/memory$1/state"
}

# Per block: counts of page flags from /proc/kpageflags (include/uapi/linux/kernel-page-flags.h)
# and the first reserved pfns: the guest's own evidence of unmovable pages.
pageflags() {
    first=$1; count=$2
    dd if=/proc/kpageflags bs=8 skip="$first" count="$count" 2>/dev/null |
    od -A n -v -t x8 -w8 | awk -v first="$first" '
    BEGIN { p[0] = 1; p[1] = 2; p[2] = 4; p[3] = 8 }
    function bit(h, b,   d) { d = index("0123456789abcdef", substr(h, 16 - int(b / 4), 1)) - 1; return int(d / p[b % 4]) % 2 }
    { pfn = first + NR - 1
      if (bit($1, 20)) { nopage++; next }
      if (bit($1, 32)) { reserved++; if (nres < 8) { list = list (nres ? "," : "") sprintf("%x", pfn); nres++ } }
      if (bit($1, 7)) slab++
      if (bit($1, 26)) pgtable++
      if (bit($1, 10)) buddy++
      if (bit($1, 5)) lru++ }
    END { printf "pages=%d nopage=%d reserved=%d slab=%d pgtable=%d buddy=%d lru=%d first_reserved=%s\n", NR, nopage, reserved, slab, pgtable, buddy, lru, list }'
}

cpus() {  # drivers/base/cpu.c: cpu0 has no "online" file (it cannot be offlined)
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        online=1; [ -e $c/online ] && read -r online < $c/online
        echo "${c##*/cpu} $online"
    done
}

nodes() {  # drivers/base/node.c: the node directories and the node_states masks
    set -- /sys/devices/system/node/node[0-9]*
    dirs=; for n in "$@"; do [ -e "$n" ] && dirs="$dirs ${n##*/node}"; done
    echo "dirs$dirs"
    for mask in online has_cpu has_memory has_normal_memory; do
        v=; [ -e /sys/devices/system/node/$mask ] && read -r v < /sys/devices/system/node/$mask; echo "$mask $v"
    done
}

alloc() {  # a short workload: fork, exec and fill MiB of page cache on the rootfs
    dd if=/dev/zero of=/tmp/memhp-alloc bs=1048576 count="$1" 2>&1 && rm /tmp/memhp-alloc
}

slabpin() {  # CPU FILES: empty tmpfs files made by xargs/touch bound to CPU: their inodes
    # and dentries are slab pages the kernel takes from that CPU's node (unmovable)
    (mkdir -p /tmp/memhp-pin$id && cd /tmp/memhp-pin$id && seq "$2" | taskset -c "$1" xargs touch) || return 1
    grep -E '^(SReclaimable|SUnreclaim)' /proc/meminfo
}

setting() {
    case "$1" in
        acpi_memory_hotplug_enabled) echo "$2" > /sys/firmware/acpi/hotplug/memory/enabled ;;
        auto_online_blocks) echo "$2" > $MEM/auto_online_blocks ;;
        *) echo "unknown setting $1"; return 2 ;;
    esac
}

echo "@@MEMHP-READY $(uname -r)"
while IFS= read -r line; do
    set -f; set -- $line; set +f  # split the request into words, never glob it
    id=$1; verb=$2
    # The id ends the request too: a line that lost bytes at either end fails this check.
    eval "last=\${$#}"
    case "$id" in
        ''|*[!0-9]*) echo "@@GARBLED $line"; continue ;;
    esac
    if [ "$last" != "$id" ] || [ $# -lt 3 ]; then echo "@@GARBLED $line"; continue; fi
    shift 2  # verbs take fixed positions, so the trailing id is never read as an argument
    echo "@@BEGIN $id"
    # No verb may read the agent's channel: its input belongs to the next request.
    case "$verb" in
        ping) echo pong ;;
        block_size) cat $MEM/block_size_bytes ;;
        blocks) blocks ;;
        offline) setstate "$1" offline "$2" ;;
        online) setstate "$1" "$2" "$3" ;;
        zoneinfo) grep -E '^Node|^ +(spanned|present|managed|start_pfn)' /proc/zoneinfo ;;
        meminfo) grep -E '^(MemTotal|MemFree)' /proc/meminfo ;;
        distances) for n in /sys/devices/system/node/node[0-9]*; do
                read -r d < $n/distance; echo "${n##*/node} $d"; done ;;
        srat) hexdump -v -e '32/1 "%02x" "\n"' /sys/firmware/acpi/tables/SRAT ;;
        pageflags) pageflags "$1" "$2" ;;
        setting) setting "$1" "$2" ;;
        cpus) cpus ;;
        nodes) nodes ;;
        alloc) alloc "$1" ;;
        slabpin) slabpin "$1" "$2" ;;
        poweroff) echo bye; echo "@@END $id 0"; poweroff -f ;;
        panic) echo c > /proc/sysrq-trigger ;;  # fault injection: the kernel panics, no reply
        hang) while :; do sleep 3600; done ;;   # fault injection: the agent never answers
        *) echo "unknown verb $verb"; false ;;
    esac </dev/null
    echo "@@END $id $?"
done
