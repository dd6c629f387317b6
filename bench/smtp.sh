#!/usr/bin/env bash
# bench/smtp.sh — a mailsim mail store against Postfix's smtp-sink, side by side, on loopback.
#
# Runs Postfix's smtp-source against smtp-sink and against the mail store MX1 of
# the lab bench/data/smtp-bench.toml (release build of mailsim), in turn, for
# four loads: 1 KB and 100 KB messages, each sent one message per SMTP session
# and many messages per session (smtp-source -d). ROUNDS rounds per load,
# alternating which server goes first. Every run gets freshly started servers;
# after each mailsim run the mailbox is read back through the lab's control API
# and must hold every message smtp-source sent. For every run it prints the
# rate and the server's CPU per message, read from /proc/PID/task/*/schedstat;
# then the medians and the mailsim/smtp-sink ratios.
# SPEC §11 wants: rate ratio >= 0.8 (keeping every message), CPU-per-message ratio <= 1.25.
#
# Builds nothing. Exit status: 0 when the runs completed (whatever the figures),
# 1 on an error (a server did not start, smtp-source failed, a message went
# missing, ...), 2 on bad usage. Everything it starts is stopped on exit, by pid.
# Only 127.0.0.0/8 is used.
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    cat <<EOF
usage: bench/smtp.sh [options]
  --rounds N           rounds per load, each server once per round (default 3)
  --sessions S         SMTP sessions in parallel (smtp-source -s, default 20)
  --messages-1k N      messages per run of 1 KB (default 20000)
  --messages-100k N    messages per run of 100 KB (default 4000; mailsim keeps
                       them all in memory: about N x 110 KB at the end of a run)
  --only LOADS         some of the loads, comma-separated: 1k-one, 1k-many,
                       100k-one, 100k-many (default: all four)
  --prefix 127.N       where the lab goes (default 127.43: MX1 = 127.43.10.25)
  --sink-addr ADDR     where smtp-sink listens (default 127.44.10.25); same port as MX1
  --mailsim PATH       the binary (default build/release/simulator/mailsim, or \$MAILSIM)
  --keep DIR           keep smtp-source outputs and mailsim's output in DIR
EOF
}

ROUNDS=3 SESSIONS=20 N1K=20000 N100K=4000 ONLY=1k-one,1k-many,100k-one,100k-many
PREFIX=127.43 SINK_ADDR=127.44.10.25 KEEP=
MAILSIM=${MAILSIM:-$ROOT/build/release/simulator/mailsim}
while (($#)); do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2;;
        --sessions) SESSIONS=${2:?}; shift 2;;
        --messages-1k) N1K=${2:?}; shift 2;;
        --messages-100k) N100K=${2:?}; shift 2;;
        --only) ONLY=${2:?}; shift 2;;
        --prefix) PREFIX=${2:?}; shift 2;;
        --sink-addr) SINK_ADDR=${2:?}; shift 2;;
        --mailsim) MAILSIM=${2:?}; shift 2;;
        --keep) KEEP=${2:?}; shift 2;;
        -h|--help) usage; exit 0;;
        *) echo "bench/smtp.sh: unknown option '$1'" >&2; usage >&2; exit 2;;
    esac
done

die() { echo "bench/smtp.sh: error: $*" >&2; exit 1; }
bad() { echo "bench/smtp.sh: $*" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || bad "--rounds must be 1..99"
[[ $SESSIONS =~ ^[1-9][0-9]*$ ]] && ((SESSIONS <= 200)) || bad "--sessions must be 1..200 (both servers take 256 connections)"
[[ $N1K =~ ^[1-9][0-9]*$ ]] && ((N1K >= 100 && N1K <= 200000)) || bad "--messages-1k must be 100..200000"
[[ $N100K =~ ^[1-9][0-9]*$ ]] && ((N100K >= 100 && N100K <= 20000)) || bad "--messages-100k must be 100..20000"
[[ $PREFIX =~ ^127\.([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 255)) ||
    bad "--prefix must be 127.N with N in 1..255"
[[ $SINK_ADDR =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "--sink-addr must be an address in 127.0.0.0/8"
[[ $SINK_ADDR == "$PREFIX".* ]] && bad "--sink-addr must lie outside the lab's prefix $PREFIX"
LOADS=()
IFS=, read -ra want <<<"$ONLY"
for l in 1k-one 1k-many 100k-one 100k-many; do
    for w in "${want[@]}"; do [[ $w == "$l" ]] && LOADS+=("$l"); done
done
for w in "${want[@]}"; do
    case "$w" in 1k-one|1k-many|100k-one|100k-many) ;; *) bad "--only: unknown load '$w'";; esac
done
((${#LOADS[@]})) || bad "--only names no load"

# --- prerequisites --------------------------------------------------------------
if [[ ! -x $MAILSIM ]]; then
    cat >&2 <<EOF
bench/smtp.sh: no mailsim binary at $MAILSIM
Build the optimised one first:
    cmake --preset release && cmake --build --preset release --target mailsim
EOF
    exit 1
fi
SOURCE=/usr/sbin/smtp-source SINK=/usr/sbin/smtp-sink
[[ -x $SOURCE && -x $SINK ]] ||
    die "no $SOURCE or $SINK: they come with Postfix. Install it with no mail daemon configured:
    echo 'postfix postfix/main_mailer_type select No configuration' | sudo debconf-set-selections
    sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix"
for t in python3 ss timeout; do command -v "$t" >/dev/null || die "$t is missing"; done
SCENARIO=$ROOT/bench/data/smtp-bench.toml
[[ -r $SCENARIO ]] || die "bench/data/smtp-bench.toml is missing"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
RCPT=bench@bench.example FROM=source@client.bench.example HELO=client.bench.example
# mailsim keeps every message in memory until the run's lab is stopped.
need_kb=$((N100K * 110 * 2))
avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
[[ " ${LOADS[*]} " == *" 100k-"* ]] && ((avail_kb < need_kb)) &&
    die "a 100 KB run keeps about $((N100K * 110 / 1024)) MB in mailsim and only $((avail_kb / 1024)) MB are available; lower --messages-100k"

# --- process bookkeeping ----------------------------------------------------------
WORK=$(mktemp -d /tmp/mailsim-smtpbench.XXXXXX) || die "mktemp failed"
SRV_PID='' SRC_PID=''
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
    stop_pid "$SRC_PID"
    stop_pid "$SRV_PID"
    if [[ -n $KEEP ]]; then mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/ && echo "kept the run's files in $KEEP"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pid_tree and cpu_ns
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The same from /proc/PID/stat, utime + stime, in clock ticks: a cross-check, as
# these are sampled at the timer tick (and read near 0 on some VMs).
cpu_ticks() {
    local sum=0 p f
    for p in "$@"; do
        f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        f=${f##*) }
        read -ra f <<<"$f"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}
# CPU seconds (user + system) of this shell's children that have exited: bash's `times`.
# Sets REPLY; must run in this shell, not in $(...).
children_cpu_s() {
    times >"$WORK/times"
    REPLY=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%.3f", t }' "$WORK/times")
}
tcp_listening() { ss -Hltn "src $1 and sport = :$2" 2>/dev/null | grep -q .; }

# --- servers: started afresh for every run ------------------------------------------
# start_mailsim TAG: a new lab; sets SRV_PID, ADDR, PORT, API, TOKEN.
start_mailsim() {
    local tag=$1 i
    "$MAILSIM" run "$SCENARIO" --prefix "$PREFIX" --ports high --api 127.0.0.1:0 \
        --ready-file "$WORK/ready-$tag.json" --json --log-level warn \
        >"$WORK/mailsim-$tag.out" 2>"$WORK/mailsim-$tag.err" &
    SRV_PID=$!
    for ((i = 0; i < 200; i++)); do
        [[ -s $WORK/ready-$tag.json ]] && break
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$WORK/mailsim-$tag.err" >&2; SRV_PID=; die "mailsim exited before it was ready"; }
        sleep 0.05
    done
    [[ -s $WORK/ready-$tag.json ]] || { cat "$WORK/mailsim-$tag.err" >&2; die "mailsim not ready after 10 s"; }
    sleep 0.1  # the ready file may still be being written
    read -r ADDR PORT API TOKEN < <(python3 - "$WORK/ready-$tag.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
mx = next(h for h in d["hosts"] if h["name"] == "MX1")
print(mx["address"], mx["services"]["smtp"], d["api"], d["token"])
EOF
    ) || die "cannot read the ready JSON"
    [[ $ADDR == 127.* && $API == http://127.* ]] || die "unexpected addresses in the ready JSON: $ADDR $API"
}
# start_sink TAG: smtp-sink on SINK_ADDR, MX1's port; sets SRV_PID, ADDR.
start_sink() {
    local tag=$1 i user=()
    ((EUID == 0)) && user=(-u nobody)  # smtp-sink will not run as root
    tcp_listening "$SINK_ADDR" "$PORT" && die "something already listens on $SINK_ADDR:$PORT"
    # Backlog 1024 (as mailsim's listen); at most 256 connections at a time (its default, as mailsim's).
    "$SINK" "${user[@]}" -h mx1.bench.example "$SINK_ADDR:$PORT" 1024 >"$WORK/sink-$tag.out" 2>&1 &
    SRV_PID=$!
    for ((i = 0; i < 100; i++)); do
        tcp_listening "$SINK_ADDR" "$PORT" && break
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$WORK/sink-$tag.out" >&2; SRV_PID=; die "smtp-sink exited"; }
        sleep 0.05
    done
    tcp_listening "$SINK_ADDR" "$PORT" || die "smtp-sink does not listen on $SINK_ADDR:$PORT"
    ADDR=$SINK_ADDR
}
# kept_messages: "count short unique" of the mailbox RCPT of the running lab, where
# short = messages smaller than the payload sent.
kept_messages() {
    python3 - "$API" "$TOKEN" "$RCPT" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
api, token, rcpt, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
req = urllib.request.Request(api + "/api/v1/mailboxes/" + urllib.parse.quote(rcpt, safe="@") + "/messages",
                             headers={"Authorization": "Bearer " + token})
with urllib.request.urlopen(req, timeout=60) as r:
    msgs = json.load(r)["messages"]
print(len(msgs), sum(1 for m in msgs if m["size"] < size), len({m["id"] for m in msgs}))
EOF
}

# --- load -----------------------------------------------------------------------
RESULTS=$WORK/results.txt
: >"$RESULTS"
# Port of MX1 with --ports high, learnt from a first lab; smtp-sink listens on the same.
start_mailsim probe
stop_pid "$SRV_PID"; SRV_PID=
WARM=$((SESSIONS * 10))

# smtp_source OUT SIZE MESSAGES MANY: smtp-source against ADDR:PORT, at most 30 s.
# In the background, so that Ctrl-C or SIGTERM stops everything at once.
smtp_source() {
    local out=$1 size=$2 msgs=$3 many=$4 args
    args=(-c -s "$SESSIONS" -l "$size" -m "$msgs" -f "$FROM" -t "$RCPT" -M "$HELO")
    ((many)) && args+=(-d)
    timeout -s INT 30 "$SOURCE" "${args[@]}" "inet:$ADDR:$PORT" >"$out" 2>&1 &
    SRC_PID=$!
    wait "$SRC_PID"; REPLY=$?
    SRC_PID=
}
# run_one LOAD NAME ROUND
run_one() {
    local load=$1 name=$2 round=$3 size many msgs tag pids c0 c1 t0 t1 w0 w1 k0 k1 rc sent hwm=0 kept=- out
    case "$load" in
        1k-*) size=1024 msgs=$N1K;;
        100k-*) size=102400 msgs=$N100K;;
    esac
    [[ $load == *-many ]] && many=1 || many=0
    tag=$load-$name-$round
    out=$WORK/source-$tag.txt
    if [[ $name == mailsim ]]; then start_mailsim "$tag"; else start_sink "$tag"; fi
    # Warm-up, not counted: every session connects and sends a few messages.
    smtp_source "$WORK/warm-$tag.txt" "$size" "$WARM" "$many"
    ((REPLY == 0)) || { tail -3 "$WORK/warm-$tag.txt" >&2; die "smtp-source failed against $name in the warm-up ($load), status $REPLY"; }
    sleep 0.2
    pids=$(pid_tree "$SRV_PID")
    c0=$(cpu_ns $pids) t0=$(cpu_ticks $pids)
    children_cpu_s; k0=$REPLY
    w0=$EPOCHREALTIME
    smtp_source "$out" "$size" "$msgs" "$many"; rc=$REPLY
    w1=$EPOCHREALTIME
    children_cpu_s; k1=$REPLY
    c1=$(cpu_ns $pids) t1=$(cpu_ticks $pids)
    ((rc == 124)) && die "smtp-source did not finish within 30 s against $name ($load); use fewer messages"
    ((rc == 0)) || { tr '\r' '\n' <"$out" | tail -3 >&2; die "smtp-source failed against $name ($load), status $rc"; }
    # smtp-source -c prints the number of messages done after each DATA; the last is the total.
    sent=$(tr '\r' '\n' <"$out" | grep -E '^[0-9]+$' | tail -1)
    [[ $sent == "$msgs" ]] || die "smtp-source sent ${sent:-0} of $msgs messages to $name ($load)"
    if [[ $name == mailsim ]]; then
        hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$SRV_PID"/status 2>/dev/null)
        local got short unique
        read -r got short unique < <(kept_messages "$size") || die "cannot read the mailbox $RCPT from the lab's API"
        ((got == msgs + WARM && unique == got && short == 0)) ||
            die "mailsim kept $got messages ($unique distinct, $short short) of the $((msgs + WARM)) it accepted ($load)"
        kept=$((got - WARM))
    fi
    stop_pid "$SRV_PID"; SRV_PID=
    awk -v load="$load" -v name="$name" -v round="$round" -v n="$msgs" -v kept="$kept" -v ns=$((c1 - c0)) \
        -v wall="$w0 $w1" -v kid="$k0 $k1" -v hwm="${hwm:-0}" -v ticks=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN {
            split(wall, w, " "); split(kid, k, " "); secs = w[2] - w[1]
            printf "%s %d %s msgs_per_s=%.1f us_per_msg=%.2f server_cpu_pct=%.0f source_cpu_pct=%.0f sent=%d kept=%s secs=%.2f rss_mb=%.0f stat_us_per_msg=%.2f stat_ticks=%d\n",
                load, round, name, n / secs, ns / 1000 / n, 100 * ns / 1e9 / secs, 100 * (k[2] - k[1]) / secs, n, kept, secs, hwm / 1024,
                ticks * 1e6 / hz / n, ticks
        }' | tee -a "$RESULTS" | awk '
        { for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          # utime + stime should agree with schedstat to within the tick sampling.
          if (v["stat_ticks"] >= 50 && (v["stat_us_per_msg"] > 1.25 * v["us_per_msg"] || v["stat_us_per_msg"] < 0.8 * v["us_per_msg"]))
              printf "  note: /proc/PID/stat utime+stime says %s us/msg for this run, schedstat %s us/msg\n", v["stat_us_per_msg"], v["us_per_msg"]
          keep = $3 == "mailsim" ? sprintf("kept %s of %s, peak RSS %s MB", v["kept"], v["sent"], v["rss_mb"]) : "discarded"
          printf "  %-9s round %-2d %-9s %9s msg/s  server %7s us/msg (%s%% of a core)  smtp-source %s%% of a core  %s\n",
              $1, $2, $3, v["msgs_per_s"], v["us_per_msg"], v["server_cpu_pct"], v["source_cpu_pct"], keep }'
}

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mailsim $("$MAILSIM" --version 2>/dev/null | awk '{print $NF}') (MX1 $PREFIX.10.25:$PORT) vs smtp-sink of Postfix $(postconf -d -h mail_version 2>/dev/null || echo '?') ($SINK_ADDR:$PORT);" \
    "smtp-source, $SESSIONS sessions in parallel; $N1K messages of 1 KB or $N100K of 100 KB per run, after $WARM not counted; $ROUNDS round(s)"
declare -A SIZE_TEXT=([1k]="1 KB" [100k]="100 KB")
for load in "${LOADS[@]}"; do
    case "$load" in
        *-one) echo "$load: ${SIZE_TEXT[${load%%-*}]} messages, one per session (connect, HELO, MAIL, RCPT, DATA, QUIT)";;
        *-many) echo "$load: ${SIZE_TEXT[${load%%-*}]} messages, many per session (smtp-source -d)";;
    esac
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then order=(mailsim smtp-sink); else order=(smtp-sink mailsim); fi
        for s in "${order[@]}"; do
            run_one "$load" "$s" "$r"
            sleep 1
        done
    done
done

# --- summary ----------------------------------------------------------------------
echo
echo "medians over $ROUNDS rounds; ratio = mailsim / smtp-sink (SPEC §11: rate ratio >= 0.8, CPU ratio <= 1.25)"
echo
echo "| size | messages per session | msg/s mailsim | msg/s smtp-sink | rate ratio | CPU µs/msg mailsim | CPU µs/msg smtp-sink | CPU ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for load in "${LOADS[@]}"; do
    awk -v load="$load" '
        function median(list,   n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $1 == load { split($4, q, "="); split($5, c, "="); rate[$3] = rate[$3] " " q[2]; cpu[$3] = cpu[$3] " " c[2] }
        END {
            rm = median(rate["mailsim"]); rs = median(rate["smtp-sink"]); cm = median(cpu["mailsim"]); cs = median(cpu["smtp-sink"])
            split(load, l, "-")
            printf "| %s | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f |\n", l[1] == "1k" ? "1 KB" : "100 KB", l[2] == "one" ? "one" : "many",
                rm, rs, rm / rs, cm, cs, cm / cs
            printf "RESULT smtp load=%s msgs_per_s_mailsim=%.0f msgs_per_s_sink=%.0f rate_ratio=%.3f us_per_msg_mailsim=%.1f us_per_msg_sink=%.1f cpu_ratio=%.3f\n",
                load, rm, rs, rm / rs, cm, cs, cm / cs > "/dev/stderr"
        }' "$RESULTS" 2>>"$WORK/summary.txt"
done
echo
cat "$WORK/summary.txt"
exit 0
