#!/usr/bin/env bash
# bench/check-tool.sh — how long `mailsim check-tool` takes over the whole library.
#
# Runs `mailsim check-tool --jobs N` over scenarios/ RUNS times (default 3) with
# two tools, interleaved so that a burst of other load hits both:
#   null       `echo '{"findings":[]}'`: the harness alone (start a lab per
#              scenario, run a command, read its output, stop the lab)
#   mailcheck  examples/mailcheck.py, the example diagnostic tool (DNS, SMTP
#              dialogues, reachability probes from every host's address)
# and prints the wall time of each run, the median per tool, and the last
# mailcheck run's per-kind precision/recall table. SPEC §11: the harness checks
# the whole scenario library in under 10 s.
#
# Builds nothing. Exit status: 0 when the runs completed (whatever the figures
# and whatever the tool found), 1 on an error, 2 on bad usage. Labs go on
# 127.150 .. 127.199 (or --prefix-base); check-tool stops every one it starts.
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    cat <<EOF
usage: bench/check-tool.sh [options] [SCENARIO|DIR...]
  --runs N          runs per tool (default 3)
  --jobs N          labs at once (default 4)
  --prefix-base N   labs on 127.N .. 127.N+49 (default 150)
  --mailsim PATH    the binary (default build/release/simulator/mailsim, or \$MAILSIM)
  --keep DIR        keep every run's table, JSON and JUnit in DIR
SCENARIO defaults to the library, scenarios/.
EOF
}
RUNS=3 JOBS=4 BASE=150 KEEP=
MAILSIM=${MAILSIM:-$ROOT/build/release/simulator/mailsim}
SCENARIOS=()
while (($#)); do
    case "$1" in
        --runs) RUNS=${2:?}; shift 2;;
        --jobs) JOBS=${2:?}; shift 2;;
        --prefix-base) BASE=${2:?}; shift 2;;
        --mailsim) MAILSIM=${2:?}; shift 2;;
        --keep) KEEP=${2:?}; shift 2;;
        -h|--help) usage; exit 0;;
        -*) echo "bench/check-tool.sh: unknown option '$1'" >&2; usage >&2; exit 2;;
        *) SCENARIOS+=("$1"); shift;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || { echo "bench/check-tool.sh: --runs must be 1..99" >&2; exit 2; }
[[ $JOBS =~ ^[1-9][0-9]?$ ]] || { echo "bench/check-tool.sh: --jobs must be 1..64" >&2; exit 2; }
[[ $BASE =~ ^[0-9]+$ ]] && ((BASE >= 1 && BASE <= 255)) || { echo "bench/check-tool.sh: --prefix-base must be 1..255" >&2; exit 2; }
((${#SCENARIOS[@]})) || SCENARIOS=("$ROOT/scenarios")
if [[ ! -x $MAILSIM ]]; then
    cat >&2 <<EOF
bench/check-tool.sh: no mailsim binary at $MAILSIM
Build the optimised one first:
    cmake --preset release && cmake --build --preset release --target mailsim
EOF
    exit 1
fi
command -v python3 >/dev/null || { echo "bench/check-tool.sh: python3 is missing" >&2; exit 1; }

if [[ -n ${KEEP:-} ]]; then
    OUT=$KEEP
    mkdir -p "$OUT" || { echo "bench/check-tool.sh: cannot create $OUT" >&2; exit 1; }
else
    OUT=$(mktemp -d /tmp/mailsim-bench-check.XXXXXX) || { echo "bench/check-tool.sh: mktemp failed" >&2; exit 1; }
fi
[[ -n $KEEP ]] || trap 'rm -rf "$OUT"' EXIT

NULL_TOOL="echo '{\"findings\":[]}'"
MAILCHECK="python3 $ROOT/examples/mailcheck.py --dns {dns} --smtp-port {smtp_port} --vantage-addr {vantage_addr} --inventory {scenario}"
count=$("$MAILSIM" list "${SCENARIOS[0]}" 2>/dev/null | tail -n +2 | wc -l)

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); mailsim $("$MAILSIM" --version 2>/dev/null | awk '{print $NF}')"
echo "library: ${SCENARIOS[*]} (~$count scenarios), --jobs $JOBS, $RUNS run(s) per tool"
echo

declare -A TIMES=()
run() {  # run NAME TOOL N
    local name=$1 tool=$2 n=$3 start end code
    start=$(date +%s.%N)
    (cd "$ROOT" && "$MAILSIM" check-tool --jobs "$JOBS" --prefix-base "$BASE" --timeout 30s \
        --json "$OUT/$name-$n.json" --junit "$OUT/$name-$n.xml" --tool "$tool" "${SCENARIOS[@]}" \
        >"$OUT/$name-$n.txt" 2>"$OUT/$name-$n.err")
    code=$?
    end=$(date +%s.%N)
    if ((code > 1)); then
        echo "bench/check-tool.sh: check-tool failed (exit $code) with the $name tool:" >&2
        tail -n 20 "$OUT/$name-$n.err" >&2
        exit 1
    fi
    local secs
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    TIMES[$name]+="$secs "
    printf '%-10s run %d: %6.2f s  %s\n' "$name" "$n" "$secs" "$(tail -n 1 "$OUT/$name-$n.txt")"
}
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then run null "$NULL_TOOL" "$i"; run mailcheck "$MAILCHECK" "$i"
    else run mailcheck "$MAILCHECK" "$i"; run null "$NULL_TOOL" "$i"; fi
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
printf 'median wall time, whole library, --jobs %d:\n' "$JOBS"
printf '  harness alone (null tool)   %6.2f s\n' "$(echo "${TIMES[null]}" | median)"
printf '  with examples/mailcheck.py  %6.2f s   (SPEC target: < 10 s)\n' "$(echo "${TIMES[mailcheck]}" | median)"
echo
echo "examples/mailcheck.py, last run: precision and recall per fault kind"
awk '/^KIND/ { on = 1 } on && NF == 0 { exit } on' "$OUT/mailcheck-$RUNS.txt"
echo
grep -E 'scenario\(s\) passed' "$OUT/mailcheck-$RUNS.txt"
[[ -n $KEEP ]] && echo "kept in $KEEP"
exit 0
