#!/usr/bin/env bash
# bench/class-memory.sh — the memory a class takes, per lab and in all.
#
# Starts `mailsim serve` (release build) with classes of 1, 10, 30 and 100
# trainees on one scenario (default bad-a-record: the guide's network), waits
# for the ready line, lets every lab settle for a second, then reads the
# process's resident memory (VmRSS, and VmHWM for the peak) from
# /proc/PID/status, stops it with SIGTERM and checks that it exits cleanly.
# The cost of one more lab is the slope between the smallest and the largest
# class. SPEC §11: 100 labs run in one process within 300 MB.
#
# Builds nothing. Exit status 0 when every class started and stopped cleanly,
# 1 otherwise, 2 on bad usage. Only 127.0.0.0/8 is used (prefixes from
# --prefix up, one per trainee).
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    echo 'usage: bench/class-memory.sh [--sizes "1 10 30 100"] [--prefix N] [--scenario ID] [--mailsim PATH]'
    echo '  --sizes LIST     class sizes to measure (default "1 10 30 100")'
    echo '  --prefix N       the first lab'"'"'s second octet (default 100; a class of S uses N .. N+S-1)'
    echo '  --scenario ID    the scenario every trainee gets (default bad-a-record)'
    echo '  --mailsim PATH   the binary (default build/release/simulator/mailsim, or $MAILSIM)'
}
SIZES="1 10 30 100" PREFIX=100 SCENARIO=bad-a-record
MAILSIM=${MAILSIM:-$ROOT/build/release/simulator/mailsim}
while (($#)); do
    case "$1" in
        --sizes) SIZES=${2:?}; shift 2;;
        --prefix) PREFIX=${2:?}; shift 2;;
        --scenario) SCENARIO=${2:?}; shift 2;;
        --mailsim) MAILSIM=${2:?}; shift 2;;
        -h|--help) usage; exit 0;;
        *) echo "bench/class-memory.sh: unknown argument '$1'" >&2; usage >&2; exit 2;;
    esac
done
[[ $PREFIX =~ ^[0-9]+$ ]] && ((PREFIX >= 1 && PREFIX <= 255)) ||
    { echo "bench/class-memory.sh: --prefix must be 1..255" >&2; exit 2; }
for s in $SIZES; do
    [[ $s =~ ^[0-9]+$ ]] && ((s >= 1 && PREFIX + s - 1 <= 255)) ||
        { echo "bench/class-memory.sh: size $s does not fit from prefix $PREFIX (at most 127.255)" >&2; exit 2; }
done
[[ -x $MAILSIM ]] ||
    { echo "bench/class-memory.sh: no mailsim at $MAILSIM (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scenario: $SCENARIO, labs from 127.$PREFIX"
# shellcheck disable=SC2086 # the sizes are separate arguments
exec python3 - "$MAILSIM" "$ROOT" "$PREFIX" "$SCENARIO" $SIZES <<'PY'
import json, os, signal, subprocess, sys, tempfile, time

mailsim, root, prefix, scenario = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sizes = [int(s) for s in sys.argv[5:]]


def memory(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024.0  # MiB
    return out


rows, failed = [], False
for n in sizes:
    with tempfile.TemporaryDirectory(prefix="mailsim-class-mem-") as d:
        path = os.path.join(d, "class.toml")
        with open(path, "w") as f:
            f.write('[class]\nscenario = "%s"\nprefix = %d\nports = "high"\ntrainees = [%s]\n'
                    % (scenario, prefix, ", ".join('"t%03d"' % i for i in range(n))))
        start = time.monotonic()
        p = subprocess.Popen([mailsim, "serve", "--class", path, "--api", "127.0.0.1:0", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root)
        line = p.stdout.readline()
        ready = time.monotonic() - start
        if not line:
            print("size %d: mailsim serve did not start: %s" % (n, p.stderr.read().strip()[:400]))
            failed = True
            continue
        info = json.loads(line)
        assert len(info["trainees"]) == n
        time.sleep(1.0)  # the labs' first timers and queries settle
        mem = memory(p.pid)
        p.send_signal(signal.SIGTERM)
        code = p.wait(60)
        failed |= code != 0
        rows.append((n, ready, mem["VmRSS"], mem["VmHWM"], code))

print()
print("%8s %10s %10s %10s %6s" % ("labs", "ready_s", "rss_MiB", "peak_MiB", "exit"))
for n, ready, rss, hwm, code in rows:
    print("%8d %10.2f %10.1f %10.1f %6d" % (n, ready, rss, hwm, code))
if len(rows) >= 2:
    (n0, _, r0, _, _), (n1, _, r1, _, _) = rows[0], rows[-1]
    print("\nper additional lab: %.2f MiB (from %d to %d labs); %d labs: %.1f MiB in all"
          % ((r1 - r0) / (n1 - n0), n0, n1, n1, r1))
sys.exit(1 if failed else 0)
PY
