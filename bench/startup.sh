#!/usr/bin/env bash
# bench/startup.sh — how long `mailsim run` takes until the lab listens.
#
# For each scenario (default: scenarios/default.toml and bench/data/startup-large.toml)
# it starts the release build RUNS times (default 20, the scenarios interleaved),
# and times, from just before the exec of `mailsim run` to:
#   ready   the ready JSON line on stdout (mailsim prints it once every endpoint listens)
#   answer  the first answer to a DNS query sent to the first DNS host right after
#           the ready line (proof that it listens, as a client sees it)
# then stops it (SIGTERM) and times the clean exit too. Prints the median, p90 and
# max of each, in ms. SPEC §11: a scenario is listening within 50 ms of start.
#
# Builds nothing. Exit status: 0 when the runs completed (whatever the figures),
# 1 on an error, 2 on bad usage. Only 127.0.0.0/8 is used; every lab it starts is
# stopped by pid.
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    cat <<EOF
usage: bench/startup.sh [options] [SCENARIO...]
  --runs N          starts per scenario (default 20)
  --prefix 127.N    where the labs go (default 127.42)
  --mailsim PATH    the binary (default build/release/simulator/mailsim, or \$MAILSIM)
SCENARIO defaults to scenarios/default.toml and bench/data/startup-large.toml.
EOF
}
RUNS=20 PREFIX=127.42
MAILSIM=${MAILSIM:-$ROOT/build/release/simulator/mailsim}
SCENARIOS=()
while (($#)); do
    case "$1" in
        --runs) RUNS=${2:?}; shift 2;;
        --prefix) PREFIX=${2:?}; shift 2;;
        --mailsim) MAILSIM=${2:?}; shift 2;;
        -h|--help) usage; exit 0;;
        -*) echo "bench/startup.sh: unknown option '$1'" >&2; usage >&2; exit 2;;
        *) SCENARIOS+=("$1"); shift;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]{0,2}$ ]] || { echo "bench/startup.sh: --runs must be 1..999" >&2; exit 2; }
[[ $PREFIX =~ ^127\.([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 255)) ||
    { echo "bench/startup.sh: --prefix must be 127.N with N in 1..255" >&2; exit 2; }
((${#SCENARIOS[@]})) || SCENARIOS=("$ROOT/scenarios/default.toml" "$ROOT/bench/data/startup-large.toml")
if [[ ! -x $MAILSIM ]]; then
    cat >&2 <<EOF
bench/startup.sh: no mailsim binary at $MAILSIM
Build the optimised one first:
    cmake --preset release && cmake --build --preset release --target mailsim
EOF
    exit 1
fi
command -v python3 >/dev/null || { echo "bench/startup.sh: python3 is missing (scripts/install-deps.sh test)" >&2; exit 1; }

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); mailsim $("$MAILSIM" --version 2>/dev/null | awk '{print $NF}')"
exec python3 - "$MAILSIM" "$PREFIX" "$RUNS" "${SCENARIOS[@]}" <<'EOF'
import json, os, select, signal, socket, struct, subprocess, sys, time

mailsim, prefix, runs, scenarios = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
# SIGTERM unwinds like Ctrl-C, so the lab being timed is stopped too.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

def dns_query(name):
    q = struct.pack(">HHHHHH", 0x4d53, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 6, 1)  # SOA IN

def once(path):
    """One start: returns (ready_ms, answer_ms, stop_ms) or raises."""
    cmd = [mailsim, "run", path, "--prefix", prefix, "--ports", "high", "--api", "127.0.0.1:0",
           "--json", "--log-level", "warn"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line, deadline = b"", t0 + 10
        while not line.endswith(b"\n"):
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                raise RuntimeError("no ready line within 10 s")
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("mailsim exited (%s): %s" % (p.wait(), p.stderr.read().decode()[-500:]))
            line += chunk
        t_ready = time.perf_counter()
        info = json.loads(line.split(b"\n")[0])
        dns = next((h for h in info["hosts"] if "dns" in h.get("services", {})), None)
        t_answer = None
        if dns:
            addr, port = dns["address"], dns["services"]["dns"]
            assert addr.startswith("127.")
            zone = dns.get("fqdn", "x.").split(".", 1)[-1] or "."
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.settimeout(1.0)
                s.sendto(dns_query(zone), (addr, port))
                s.recvfrom(4096)
                t_answer = time.perf_counter()
            except OSError:
                t_answer = None  # e.g. the vantage host cannot reach that server: no answer by design
            finally:
                s.close()
        ts = time.perf_counter()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        t_stop = time.perf_counter()
        if p.returncode != 0:
            raise RuntimeError("mailsim exited %d after SIGTERM" % p.returncode)
        return ((t_ready - t0) * 1e3, None if t_answer is None else (t_answer - t0) * 1e3, (t_stop - ts) * 1e3,
                len(info["hosts"]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

def stats(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return "n/a"
    n = len(xs)
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    p90 = xs[min(n - 1, int(0.9 * n))]
    return "median %6.1f  p90 %6.1f  max %6.1f" % (med, p90, xs[-1])

results = {s: [] for s in scenarios}
try:
    for path in scenarios:  # one untimed start each: page cache, binary loaded
        once(path)
    for i in range(runs):
        for path in (scenarios if i % 2 == 0 else scenarios[::-1]):
            results[path].append(once(path))
except Exception as e:  # a start that failed is an error, not a figure
    print("bench/startup.sh: error: %s" % e, file=sys.stderr)
    sys.exit(1)

print("%d starts per scenario, interleaved; ms from exec of `mailsim run` (SPEC §11: listening within 50 ms)" % runs)
for path in scenarios:
    r = results[path]
    name = os.path.relpath(path)
    print("%s (%d hosts)" % (name, r[0][3]))
    print("  ready JSON     %s ms" % stats([x[0] for x in r]))
    print("  first answer   %s ms" % stats([x[1] for x in r]))
    print("  stop (SIGTERM) %s ms" % stats([x[2] for x in r]))
for path in scenarios:
    r = results[path]
    med = sorted(x[0] for x in r)
    n = len(med)
    m = med[n // 2] if n % 2 else (med[n // 2 - 1] + med[n // 2]) / 2
    print("RESULT startup scenario=%s hosts=%d runs=%d ready_ms_median=%.1f ready_ms_max=%.1f" %
          (os.path.basename(path), r[0][3], n, m, med[-1]))
EOF
