# memhp guest agent. Protocol on ttyS1 (raw, no echo):
#   host:  "<id> <verb> [args…] <id>"
#   guest: "@@BEGIN <id>", the verb's output, "@@END <id> <exit status>"
# Only the verbs below exist: the host never sends shell text.
# 115200, not the tty's 9600: QEMU's 16550 raises the interrupt for a request's last few
# bytes (below the FIFO trigger level) only after four character times (hw/char/serial.c,
# fifo_timeout_timer): 4 ms a request at 9600 baud (measured under TCG: a ping 8 ms -> 2 ms).
stty raw -echo 115200 2>/dev/null
MEM=/sys/devices/system/memory
NODE=/sys/devices/system/node
# Listings of blocks, zones and page flags: one static helper (helpers/state.c), not shell
# loops, sed, od and awk.
STATE=/bin/memhp-state

setstate() {  # block, state, seconds: offlining may retry migration forever; bound it
    timeout -s INT "$3" sh -c "echo $2 > $MEM/memory$1/state"
}

cpus() {  # drivers/base/cpu.c: cpu0 has no "online" file (it cannot be offlined)
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        online=1; [ -e $c/online ] && read -r online < $c/online
        echo "${c##*/cpu} $online"
    done
}

nodes() {  # drivers/base/node.c: the node directories and the node_states masks
    set -- $NODE/node[0-9]*
    dirs=; for n in "$@"; do [ -e "$n" ] && dirs="$dirs ${n##*/node}"; done
    echo "dirs$dirs"
    for mask in online has_cpu has_memory has_normal_memory; do
        v=; [ -e $NODE/$mask ] && read -r v < $NODE/$mask; echo "$mask $v"
    done
}

alloc() {  # a short workload: fork, exec and fill MiB of page cache on the rootfs
    dd if=/dev/zero of=/tmp/memhp-alloc bs=1048576 count="$1" 2>&1 && rm /tmp/memhp-alloc
}

hotplug_params() {  # drivers/base/memory.c auto_online_blocks; mm/memory_hotplug.c module params
    read -r v < $MEM/auto_online_blocks; echo "auto_online_blocks $v"
    for p in online_policy auto_movable_ratio auto_movable_numa_aware memmap_on_memory; do
        v=; [ -e /sys/module/memory_hotplug/parameters/$p ] && read -r v < /sys/module/memory_hotplug/parameters/$p
        echo "$p $v"
    done
}

slabpin() {  # CPU FILES: empty tmpfs files made by xargs/touch bound to CPU: their inodes
    # and dentries are slab pages the kernel takes from that CPU's node (unmovable)
    (mkdir -p /tmp/memhp-pin$id && cd /tmp/memhp-pin$id && seq "$2" | taskset -c "$1" xargs touch) || return 1
    grep -E '^(SReclaimable|SUnreclaim)' /proc/meminfo
}

slabpinnode() {  # NODE FILES: as slabpin, made by a process whose memory policy binds NODE
    (mkdir -p /tmp/memhp-pin$id && cd /tmp/memhp-pin$id && seq "$2" | $STATE membind "$1" xargs touch) || return 1
    grep -E '^(SReclaimable|SUnreclaim)' /proc/meminfo
}

# CXL memory through sysfs (Documentation/ABI/testing/sysfs-bus-cxl; what cxl-cli does):
# a RAM region over memdev mem$2 in root decoder decoder0.$1 (the fixed window), its
# endpoint decoder decoderK.0 of the memdev's port endpointK.
CXL=/sys/bus/cxl/devices
cxlendpoint() {  # MEMDEV -> ed=the endpoint decoder's directory
    for e in $CXL/endpoint*; do
        [ "$(readlink -f $e/uport)" = "$(readlink -f $CXL/mem$1)" ] && ed=$CXL/decoder${e##*/endpoint}.0
    done
    [ -n "$ed" ] || { echo "no endpoint port for mem$1"; return 1; }
}
cxlw() {  # VALUE FILE: one sysfs write, named in the reply when the kernel refuses it
    echo "$1" > "$2" || { echo "refused: $1 > ${2#$CXL/}"; return 1; }
}
cxlregion() {  # WINDOW MEMDEV: create, configure, commit and bind; print what came up
    root=$CXL/decoder0.$1; ed=
    cxlendpoint "$2" || return 1
    read -r size < $CXL/mem$2/ram/size
    read -r gran < $root/interleave_granularity
    read -r region < $root/create_ram_region
    cxlw "$region" $root/create_ram_region || return 1
    r=$CXL/$region
    cxlw "$gran" $r/interleave_granularity && cxlw 1 $r/interleave_ways && cxlw "$size" $r/size &&
        cxlw ram $ed/mode && cxlw "$size" $ed/dpa_size && cxlw "${ed##*/}" $r/target0 &&
        cxlw 1 $r/commit || return 1
    # commit leaves the region unbound (drivers/cxl/core/region.c): bind probes cxl_dax_region
    cxlw "$region" /sys/bus/cxl/drivers/cxl_region/bind || return 1
    read -r start < $r/resource
    echo "region $region start $start size $size endpoint ${ed##*/}"
    # 6.12 registers the dax device within bind, 7.3 a moment later: wait up to 10 s
    tries=0
    while [ $tries -lt 10 ]; do
        for d in $r/dax_region*/dax[0-9]*; do
            if [ -e "$d/driver" ]; then echo "dax ${d##*/} driver $(basename "$(readlink -f $d/driver)")"; return 0; fi
        done
        tries=$((tries + 1)); sleep 1
    done
    echo "no dax device bound under $region after 10 s"
}
cxldown() {  # WINDOW MEMDEV REGION: the reverse, dpa_size=0 last (else the decoder keeps it)
    root=$CXL/decoder0.$1; ed=; r=$CXL/$3
    cxlendpoint "$2" || return 1
    for d in $r/dax_region*/dax[0-9]*; do
        if [ -e "$d/driver" ]; then cxlw "${d##*/}" $d/driver/unbind || return 1; fi
    done
    cxlw "$3" /sys/bus/cxl/drivers/cxl_region/unbind && cxlw 0 $r/commit &&
        cxlw "$3" $root/delete_region && cxlw 0 $ed/dpa_size
}
cxlfill() {  # NODE MIB: data in a tmpfs whose pages the node must hold (mpol=bind)
    d=/tmp/memhp-cxl$1; mkdir -p $d
    mount -t tmpfs -o "mpol=bind:$1,size=$(($2 + 1))m" memhp-cxl $d || return 1
    dd if=/dev/urandom of=$d/data bs=1048576 count="$2" 2>/dev/null && md5sum $d/data
}
cxlsum() {  # NODE: the data's checksum now
    md5sum /tmp/memhp-cxl$1/data
}

setting() {
    case "$1" in
        acpi_memory_hotplug_enabled) echo "$2" > /sys/firmware/acpi/hotplug/memory/enabled ;;
        acpi_processor_hotplug_enabled) echo "$2" > /sys/firmware/acpi/hotplug/processor/enabled ;;
        auto_online_blocks) echo "$2" > $MEM/auto_online_blocks ;;
        *) echo "unknown setting $1"; return 2 ;;
    esac
}

unhex() {  # "x6869" -> v="hi": the host sends each argv word as x + hex, never as text
    h=${1#x}; esc=
    while [ -n "$h" ]; do rest=${h#??}; esc="$esc\\x${h%"$rest"}"; h=$rest; done
    v=$(printf '%bx' "$esc"); v=${v%x}  # the x keeps trailing newlines
}

# run TIMEOUT LIMIT xHEX...: exec the decoded argv (no shell parses it: exec skips the
# agent's functions and builtins), stdin /dev/null, stdout and stderr kept in files so a
# command killed at TIMEOUT still gives its output so far; at most LIMIT bytes of each
# come back, base64 encoded so no output line can look like the protocol's framing.
runcmd() {
    t=$1; limit=$2; shift 2; n=0
    for a in "$@"; do  # the request's trailing id is digits: not an argv word
        case "$a" in x*) unhex "$a"; n=$((n + 1)); eval "arg$n=\$v" ;; esac
    done
    set --; i=1
    while [ $i -le $n ]; do eval "set -- \"\$@\" \"\$arg$i\""; i=$((i + 1)); done
    r=${TMPDIR:-/tmp}/memhp-run  # TMPDIR: the host-side unit tests run the agent too
    rm -f $r.out $r.err $r.killed
    read -r t0 _ < /proc/uptime
    ( exec "$@" ) </dev/null >$r.out 2>$r.err &
    pid=$!
    ( sleep "$t" & s=$!; trap 'kill $s; exit 0' TERM; wait $s
      kill -KILL $pid 2>/dev/null && : > $r.killed ) </dev/null >/dev/null 2>&1 &
    watch=$!
    wait $pid; st=$?
    kill $watch 2>/dev/null; wait $watch
    read -r t1 _ < /proc/uptime
    killed=0; [ -e $r.killed ] && killed=1
    echo "status $st timed_out $killed uptime $t0 $t1"
    for s in out err; do
        echo "${s}_size $(wc -c < $r.$s)"
        head -c "$limit" $r.$s | base64 | while read -r l; do echo "$s $l"; done
    done
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
        boot_id) cat /proc/sys/kernel/random/boot_id ;;  # drivers/char/random.c: one per boot
        block_size) read -r v < $MEM/block_size_bytes; echo "$v" ;;
        blocks) $STATE blocks $MEM $NODE ;;
        offline) setstate "$1" offline "$2" ;;
        online) setstate "$1" "$2" "$3" ;;
        zoneinfo) $STATE zones /proc/zoneinfo ;;
        # block size, blocks, zoneinfo and meminfo in one reply and one exec (~10 ms under TCG)
        snapshot) $STATE snapshot $MEM $NODE ;;
        distances) for n in $NODE/node[0-9]*; do
                read -r d < $n/distance; echo "${n##*/node} $d"; done ;;
        srat) hexdump -v -e '32/1 "%02x" "\n"' /sys/firmware/acpi/tables/SRAT ;;
        pageflags) $STATE pageflags "$1" "$2" ;;  # counts of a block's page flags, first reserved pfns
        setting) setting "$1" "$2" ;;
        cpus) cpus ;;
        nodes) nodes ;;
        hotplug_params) hotplug_params ;;
        alloc) alloc "$1" ;;
        run) runcmd "$@" ;;
        slabpin) slabpin "$1" "$2" ;;
        slabpinnode) slabpinnode "$1" "$2" ;;
        cxlregion) cxlregion "$1" "$2" ;;
        cxldown) cxldown "$1" "$2" "$3" ;;
        cxlfill) cxlfill "$1" "$2" ;;
        cxlsum) cxlsum "$1" ;;
        poweroff) echo bye; echo "@@END $id 0"; poweroff -f ;;
        panic) echo c > /proc/sysrq-trigger ;;  # fault injection: the kernel panics, no reply
        hang) while :; do sleep 3600; done ;;   # fault injection: the agent never answers
        *) echo "unknown verb $verb"; false ;;
    esac </dev/null
    echo "@@END $id $?"
done
