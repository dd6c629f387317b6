#!/usr/bin/env bash
# bench/dns.sh — mailsim's DNS service against NSD, side by side, on loopback.
#
# Starts the lab bench/data/dns-bench.toml (release build of mailsim) and NSD
# serving the very same records (read back from the lab's control API), then
# runs dnsperf against each in turn: ROUNDS rounds over UDP, then over TCP,
# alternating which server goes first. For every run it prints the rate and the
# server's CPU per query, read from /proc/PID/task/*/schedstat (all threads, and
# for NSD all its processes); then the medians and the mailsim/NSD ratios.
# SPEC §11 wants: qps ratio >= 1.0, CPU-per-query ratio <= 1.0.
#
# Builds nothing. Exit status: 0 when the runs completed (whatever the figures),
# 1 on an error (a server did not start, dnsperf failed, ...), 2 on bad usage.
# Everything it starts is stopped on exit, by pid. Only 127.0.0.0/8 is used.
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    cat <<EOF
usage: bench/dns.sh [options]
  --rounds N        rounds per protocol, each server once per round (default 3)
  --seconds S       length of one dnsperf run, 1..15 (default 15)
  --outstanding Q   queries in flight (dnsperf -q, default 100)
  --no-tcp          UDP only
  --prefix 127.N    where the lab goes (default 127.40: NS1 = 127.40.10.53)
  --nsd-addr ADDR   where NSD listens (default 127.41.10.53); same port as the lab
  --mailsim PATH    the binary (default build/release/simulator/mailsim, or \$MAILSIM)
  --keep DIR        keep the zone files, NSD config and dnsperf outputs in DIR
EOF
}

ROUNDS=3 SECS=15 OUTSTANDING=100 TCP=1 PREFIX=127.40 NSD_ADDR=127.41.10.53 KEEP=
MAILSIM=${MAILSIM:-$ROOT/build/release/simulator/mailsim}
while (($#)); do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2;;
        --seconds) SECS=${2:?}; shift 2;;
        --outstanding) OUTSTANDING=${2:?}; shift 2;;
        --no-tcp) TCP=0; shift;;
        --prefix) PREFIX=${2:?}; shift 2;;
        --nsd-addr) NSD_ADDR=${2:?}; shift 2;;
        --mailsim) MAILSIM=${2:?}; shift 2;;
        --keep) KEEP=${2:?}; shift 2;;
        -h|--help) usage; exit 0;;
        *) echo "bench/dns.sh: unknown option '$1'" >&2; usage >&2; exit 2;;
    esac
done

die() { echo "bench/dns.sh: error: $*" >&2; exit 1; }
bad() { echo "bench/dns.sh: $*" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || bad "--rounds must be 1..99"
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS >= 1 && SECS <= 15)) || bad "--seconds must be 1..15"
[[ $OUTSTANDING =~ ^[1-9][0-9]*$ ]] || bad "--outstanding must be a positive number"
[[ $PREFIX =~ ^127\.([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 255)) ||
    bad "--prefix must be 127.N with N in 1..255"
OCTET=${PREFIX#127.}
[[ $NSD_ADDR =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "--nsd-addr must be an address in 127.0.0.0/8"
[[ $NSD_ADDR == "$PREFIX".* ]] && bad "--nsd-addr must lie outside the lab's prefix $PREFIX"

# --- prerequisites --------------------------------------------------------------
if [[ ! -x $MAILSIM ]]; then
    cat >&2 <<EOF
bench/dns.sh: no mailsim binary at $MAILSIM
Build the optimised one first:
    cmake --preset release && cmake --build --preset release --target mailsim
EOF
    exit 1
fi
missing=()
for t in dnsperf nsd nsd-checkconf python3 ss; do command -v "$t" >/dev/null || missing+=("$t"); done
((${#missing[@]} == 0)) || die "missing ${missing[*]} (scripts/install-deps.sh test installs dnsperf, nsd, python3)"
HAVE_DIG=1; command -v dig >/dev/null || HAVE_DIG=0
SCENARIO=$ROOT/bench/data/dns-bench.toml
QUERIES=$ROOT/bench/data/dns-queries.txt
[[ -r $SCENARIO && -r $QUERIES ]] || die "bench/data/dns-bench.toml or dns-queries.txt missing (bench/data/gen-dns-bench.sh writes them)"

# --- process bookkeeping ----------------------------------------------------------
WORK=$(mktemp -d /tmp/mailsim-dnsbench.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
MS_PID='' NSD_PID='' NSD_KIDS='' DP_PID=''
stop_pid() {  # TERM, up to 5 s, then KILL; by pid only
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
cleanup() {
    stop_pid "$DP_PID"
    stop_pid "$MS_PID"
    stop_pid "$NSD_PID"
    local k
    for k in $NSD_KIDS; do kill -0 "$k" 2>/dev/null && kill -TERM "$k" 2>/dev/null; done
    if [[ -n $KEEP ]]; then mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/ && echo "kept the run's files in $KEEP"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pid_tree and cpu_ns
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# CPU seconds (user + system) of this shell's children that have exited: bash's `times`.
# Sets REPLY; must run in this shell, not in $(...).
children_cpu_s() {
    times >"$WORK/times"
    REPLY=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%.3f", t }' "$WORK/times")
}
udp_listening() { ss -Hlun "src $1 and sport = :$2" 2>/dev/null | grep -q .; }

# --- mailsim --------------------------------------------------------------------
echo "starting mailsim: $SCENARIO at $PREFIX"
"$MAILSIM" run "$SCENARIO" --prefix "$PREFIX" --ports high --api 127.0.0.1:0 \
    --ready-file "$WORK/ready.json" --json --log-level warn >"$WORK/mailsim.out" 2>"$WORK/mailsim.err" &
MS_PID=$!
for ((i = 0; i < 200; i++)); do
    [[ -s $WORK/ready.json ]] && break
    kill -0 "$MS_PID" 2>/dev/null || { cat "$WORK/mailsim.err" >&2; MS_PID=; die "mailsim exited before it was ready"; }
    sleep 0.1
done
[[ -s $WORK/ready.json ]] || { cat "$WORK/mailsim.err" >&2; die "mailsim not ready after 20 s"; }
sleep 0.2  # the ready file may still be being written
read -r MS_ADDR PORT API TOKEN < <(python3 - "$WORK/ready.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ns = next(h for h in d["hosts"] if h["name"] == "NS1")
print(ns["address"], ns["services"]["dns"], d["api"], d["token"])
EOF
) || die "cannot read the ready JSON"
[[ $MS_ADDR == 127.* && $API == http://127.* ]] || die "unexpected addresses in the ready JSON: $MS_ADDR $API"

# --- the same records for NSD, from the lab's own API -----------------------------
ZONES=$(python3 - "$API" "$TOKEN" "$WORK" <<'EOF'
import json, sys, urllib.request, urllib.parse
api, token, work = sys.argv[1:4]
def get(path):
    req = urllib.request.Request(api + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)
count = 0
for z in get("/api/v1/zones")["zones"]:
    if z["server"] != "NS1":
        continue
    full = get("/api/v1/zones/%s?server=NS1" % urllib.parse.quote(z["origin"]))
    with open("%s/%s.zone" % (work, z["origin"]), "w") as f:
        for r in full["records"]:
            f.write(r["text"] + "\n")
            count += 1
    print(z["origin"], end=" ")
print(count)
EOF
) || die "cannot read the zones from the lab's API"
read -ra zl <<<"$ZONES"
NRECORDS=${zl[-1]}; unset 'zl[-1]'
((${#zl[@]} > 0)) || die "the lab serves no zone on NS1"

# PTR queries follow the lab to its prefix.
sed "s/\.20\.40\.127\.in-addr\.arpa /.20.$OCTET.127.in-addr.arpa /" "$QUERIES" >"$WORK/queries.txt"

NSD_USER='""'
if [[ $(id -u) -eq 0 ]] && id nsd >/dev/null 2>&1; then NSD_USER=nsd; chown -R nsd: "$WORK"; fi
{
    cat <<EOF
# NSD for bench/dns.sh: one server process (mailsim serves DNS from one thread),
# rate limiting off (Debian's NSD has RRL on, which would drop most of the load).
server:
    ip-address: $NSD_ADDR@$PORT
    port: $PORT
    do-ip4: yes
    do-ip6: no
    server-count: 1
    username: $NSD_USER
    chroot: ""
    zonesdir: "$WORK"
    database: ""
    zonelistfile: "$WORK/zone.list"
    xfrdfile: "$WORK/xfrd.state"
    xfrdir: "$WORK"
    pidfile: "$WORK/nsd.pid"
    logfile: "$WORK/nsd.log"
    verbosity: 0
    hide-version: yes
    refuse-any: yes
    minimal-responses: no
    round-robin: no
    tcp-count: 200
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
EOF
    for z in "${zl[@]}"; do printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' "$z" "$z"; done
} >"$WORK/nsd.conf"
nsd-checkconf "$WORK/nsd.conf" || die "NSD rejects the generated configuration"
udp_listening "$NSD_ADDR" "$PORT" && die "something already listens on $NSD_ADDR:$PORT"
echo "starting NSD at $NSD_ADDR:$PORT with ${zl[*]} ($NRECORDS records)"
nsd -d -c "$WORK/nsd.conf" >"$WORK/nsd.out" 2>&1 &
NSD_PID=$!
for ((i = 0; i < 100; i++)); do
    udp_listening "$NSD_ADDR" "$PORT" && break
    kill -0 "$NSD_PID" 2>/dev/null || { cat "$WORK/nsd.out" "$WORK/nsd.log" >&2 2>/dev/null; NSD_PID=; die "NSD exited"; }
    sleep 0.1
done
udp_listening "$NSD_ADDR" "$PORT" || die "NSD does not listen on $NSD_ADDR:$PORT"
sleep 0.5  # NSD forks its server process after binding
NSD_KIDS=$(pid_tree "$NSD_PID")

# --- same answers? --------------------------------------------------------------
if ((HAVE_DIG)); then
    same=0 total=0
    while read -r name type; do
        a=$(dig +norec +nocookie +time=1 +tries=2 +noall +answer +authority +additional @"$MS_ADDR" -p "$PORT" "$name" "$type" | sort)
        b=$(dig +norec +nocookie +time=1 +tries=2 +noall +answer +authority +additional @"$NSD_ADDR" -p "$PORT" "$name" "$type" | sort)
        ((total++))
        if [[ -n $a && $a == "$b" ]]; then ((same++)); else echo "WARNING: answers differ for $name $type" >&2; fi
    done < <(awk 'NR % 250 == 1' "$WORK/queries.txt")
    echo "probe: $same of $total sample queries answered identically by both servers"
else
    echo "probe skipped (no dig)"
fi

# --- load -----------------------------------------------------------------------
RESULTS=$WORK/results.txt
: >"$RESULTS"
# run_one PROTO NAME ADDR SECONDS ROUND [quiet]
run_one() {
    local proto=$1 name=$2 addr=$3 secs=$4 round=$5 quiet=${6:-}
    local pids c0 c1 w0 w1 k0 k1 rc out="$WORK/dnsperf-$proto-$name-$round.txt"
    kill -0 "$MS_PID" 2>/dev/null || die "mailsim died"
    kill -0 "$NSD_PID" 2>/dev/null || die "NSD died"
    NSD_KIDS=$(pid_tree "$NSD_PID")  # main, xfrd and server processes
    if [[ $name == mailsim ]]; then pids=$MS_PID; else pids=$NSD_KIDS; fi
    c0=$(cpu_ns $pids)
    children_cpu_s; k0=$REPLY
    w0=$EPOCHREALTIME
    # In the background, so that Ctrl-C or SIGTERM stops everything at once.
    timeout $((secs + 20)) dnsperf -m "$proto" -s "$addr" -p "$PORT" -d "$WORK/queries.txt" \
        -l "$secs" -q "$OUTSTANDING" -t 2 -b 4096 >"$out" 2>&1 &
    DP_PID=$!
    wait "$DP_PID"; rc=$?
    DP_PID=
    w1=$EPOCHREALTIME
    children_cpu_s; k1=$REPLY
    c1=$(cpu_ns $pids)
    ((rc == 0)) || { tail -5 "$out" >&2; die "dnsperf failed against $name ($proto), status $rc"; }
    [[ -n $quiet ]] && return 0
    awk -v proto="$proto" -v name="$name" -v round="$round" -v ns=$((c1 - c0)) -v wall="$w0 $w1" -v kid="$k0 $k1" '
        /Queries completed:/  { done = $3 }
        /Queries lost:/       { lost = $3 }
        /Queries per second:/ { qps = $4 }
        /Connection Statistics/ { conn = 1 }
        /Average Latency/     { if (!conn) lat = $4 }
        END {
            split(wall, w, " "); split(kid, k, " "); secs = w[2] - w[1]
            if (done == 0) { print "ERROR no query completed"; exit }
            printf "%s %d %s qps=%.1f lost=%d avg_ms=%.3f us_per_q=%.2f server_cpu_pct=%.0f dnsperf_cpu_pct=%.0f\n",
                proto, round, name, qps, lost, lat * 1000, ns / 1000 / done, 100 * ns / 1e9 / secs, 100 * (k[2] - k[1]) / secs
        }' "$out" | tee -a "$RESULTS" | awk '
        /^ERROR/ { print; exit 1 }
        { printf "  %-4s round %-2d %-8s %10s qps  lost %-5s avg %6s ms  server %6s us/query (%s%% of a core)  dnsperf %s%% of a core\n",
              $1, $2, $3, substr($4, 5), substr($5, 6), substr($6, 8), substr($7, 10), substr($8, 16), substr($9, 17) }' ||
        die "no query completed against $name ($proto); see --keep"
}

PROTOS=(udp); ((TCP)) && PROTOS+=(tcp)
echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mailsim $("$MAILSIM" --version 2>/dev/null | awk '{print $NF}') vs $(nsd -v 2>&1 | head -1); $(dnsperf -h 2>&1 | awk '/^Version/{print "dnsperf " $2}'), $OUTSTANDING queries in flight, $SECS s per run, $ROUNDS round(s)"
for proto in "${PROTOS[@]}"; do
    echo "$proto: warm-up (2 s each, not counted), then $ROUNDS round(s)"
    run_one "$proto" mailsim "$MS_ADDR" 2 0 quiet
    run_one "$proto" nsd "$NSD_ADDR" 2 0 quiet
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then order=(mailsim nsd); else order=(nsd mailsim); fi
        for s in "${order[@]}"; do
            if [[ $s == mailsim ]]; then run_one "$proto" mailsim "$MS_ADDR" "$SECS" "$r"; else run_one "$proto" nsd "$NSD_ADDR" "$SECS" "$r"; fi
            sleep 1
        done
    done
done

# --- summary ----------------------------------------------------------------------
echo
echo "medians over $ROUNDS rounds; ratio = mailsim / NSD (SPEC §11: qps ratio >= 1.0, CPU ratio <= 1.0)"
echo
echo "| proto | qps mailsim | qps NSD | qps ratio | CPU µs/query mailsim | CPU µs/query NSD | CPU ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for proto in "${PROTOS[@]}"; do
    awk -v proto="$proto" '
        function median(list,   n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $1 == proto { split($4, q, "="); split($7, c, "="); qps[$3] = qps[$3] " " q[2]; cpu[$3] = cpu[$3] " " c[2] }
        END {
            qm = median(qps["mailsim"]); qn = median(qps["nsd"]); cm = median(cpu["mailsim"]); cn = median(cpu["nsd"])
            printf "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", toupper(proto), qm, qn, qm / qn, cm, cn, cm / cn
            printf "RESULT dns proto=%s qps_mailsim=%.0f qps_nsd=%.0f qps_ratio=%.3f us_per_q_mailsim=%.2f us_per_q_nsd=%.2f cpu_ratio=%.3f\n",
                proto, qm, qn, qm / qn, cm, cn, cm / cn > "/dev/stderr"
        }' "$RESULTS" 2>>"$WORK/summary.txt"
done
echo
cat "$WORK/summary.txt"
exit 0
