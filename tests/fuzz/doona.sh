#!/bin/bash
# Robustness of the SMTP service under Debian's `doona` (a fork of BED, the
# "bruteforce exploit detector"): its SMTP plugin's overflow, format-string,
# Unicode, big-number and odd-character cases, sent to STORE of a running lab.
# After every case STORE must still answer a normal session (banner, EHLO,
# QUIT); at the end mailsim must still run, stop cleanly on SIGTERM and have
# written no sanitizer report.
#
#   tests/fuzz/doona.sh                  # every case doona has (30752; ~30 s with the ASan build, ~75 s on busy cores)
#   DOONA_START=4000 DOONA_MAX=500 tests/fuzz/doona.sh   # a slice
#   DOONA_START=1234 DOONA_MAX=1 tests/fuzz/doona.sh     # one case again
#
# Prints `RESULT doona cases=N answered_after_each=yes|no` (and a line with
# the time taken); exit 0 when every case was answered, 1 when not, 2 when
# the script could not run. Environment:
#   MAILSIM        the binary (default build/dev, the ASan+UBSan build, else build/release)
#   DOONA_MAX      cases to run at most (doona's -M), default 40000 (all)
#   DOONA_START    first case (doona's -r), default 1
#   DOONA_TIMEOUT  seconds for the whole run, default 600
#   DOONA_KEEP=1   keep the work directory (doona's output, mailsim's stderr)
#   DOONA_PREFIX   lab prefix 127.N, default 127.241 (the next ones are tried if it is busy)
#   DOONA_REAL_SLEEP=1  keep doona's own sleeps (1 s after each login, -o after each case)
#
# doona sleeps a second after each login "for slow daemons" and has no SMTP
# health check of its own (its -c option calls a method the SMTP plugin lacks).
# So it runs under a small Perl wrapper that makes sleep() return at once and
# supplies that health check; the cases themselves are doona's, unchanged.
# Only loopback addresses of the lab are used.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenario="$root/tests/data/scenarios/mailflow.toml"
if [ -z "${MAILSIM:-}" ]; then
  MAILSIM="$root/build/dev/simulator/mailsim"
  [ -x "$MAILSIM" ] || MAILSIM="$root/build/release/simulator/mailsim"
fi
max=${DOONA_MAX:-40000}
start=${DOONA_START:-1}
limit=${DOONA_TIMEOUT:-600}
prefix=${DOONA_PREFIX:-127.241}
doona_dir=/usr/share/doona

[ -x "$MAILSIM" ] || { echo "doona.sh: no mailsim binary at $MAILSIM" >&2; exit 2; }
# Loopback only: the lab and everything doona sends stay inside 127.0.0.0/8.
[[ "$prefix" =~ ^127\.([6-9][0-9]|1[0-9][0-9]|2[0-4][0-9])$ ]] || { echo "doona.sh: DOONA_PREFIX must be 127.60 .. 127.249" >&2; exit 2; }
[ -f "$doona_dir/doona.pl" ] || { echo "doona.sh: doona is not installed (apt-get install doona)" >&2; exit 2; }

work=$(mktemp -d /tmp/mailsim-doona.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null; fi
  [ -n "${DOONA_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# --- the lab --------------------------------------------------------------
octet=${prefix#127.}
for try in 0 1 2 3 4; do
  p="127.$(( (octet + try * 3 - 60) % 190 + 60 ))"
  rm -f "$work/ready.json"
  "$MAILSIM" run "$scenario" --prefix "$p" --ports auto --api 127.0.0.1:0 \
    --ready-file "$work/ready.json" --json --log-level warn >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  for _ in $(seq 200); do
    [ -s "$work/ready.json" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$work/ready.json" ] && break
  wait "$pid" 2>/dev/null
  pid=
  grep -q "cannot bind" "$work/stderr" || { cat "$work/stderr" >&2; echo "doona.sh: mailsim did not start" >&2; exit 2; }
done
[ -n "$pid" ] || { echo "doona.sh: no free lab prefix" >&2; exit 2; }
read -r store port < <(python3 -c '
import json, sys
info = json.load(open(sys.argv[1]))
store = [h for h in info["hosts"] if h["name"] == "STORE"][0]
print(store["address"], info["ports"]["smtp"])' "$work/ready.json")
[[ "$store" == 127.* ]] || { echo "doona.sh: STORE is at $store, outside 127.0.0.0/8" >&2; exit 2; }
echo "doona.sh: $MAILSIM pid $pid, STORE at $store port $port; cases from $start, at most $max, at most ${limit}s"

# --- doona, wrapped ----------------------------------------------------------
cat >"$work/run-doona.pl" <<'PERL'
# Runs /usr/share/doona/doona.pl with sleep() made instant (unless
# DOONA_REAL_SLEEP) and with an SMTP health check for its -c option.
use strict;
use warnings;
use IO::Socket::INET;
BEGIN { *CORE::GLOBAL::sleep = sub { return 0 } unless $ENV{DOONA_REAL_SLEEP}; }
use lib '/usr/share/doona';

my $log = $ENV{DOONA_HEALTH_LOG};

# Banner 220, EHLO answered 250 (multi-line), QUIT answered 221; 10 s at most.
sub smtp_answers {
    my ($host, $port) = @_;
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 10;
        my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp', Timeout => 10)
            or die "connect: $!\n";
        my $reply = sub {
            my ($line, $all) = ('', '');
            do { $line = <$s>; die "closed\n" unless defined $line; $all .= $line } while ($line =~ /^\d{3}-/);
            return $all;
        };
        $reply->() =~ /^220[ -]/ or die "banner\n";
        print $s "EHLO health.check.example\r\n";
        $reply->() =~ /^250[ -]/ or die "EHLO\n";
        print $s "QUIT\r\n";
        $reply->() =~ /^221[ -]/ or die "QUIT\n";
        close $s;
        alarm 0;
        1;
    };
    alarm 0;
    return $ok ? 1 : 0;
}

no warnings 'once';
*bedmod::smtp::health_check = sub {
    my $this = shift;
    my $ok = smtp_answers($this->{target}, $this->{port});
    if ($log && open(my $fh, '>>', $log)) { print $fh ($ok ? "ok\n" : "FAILED\n"); close $fh; }
    return $ok;
};

if (@ARGV && $ARGV[0] eq '--check') {   # the same check, once, from the shell
    exit(smtp_answers($ARGV[1], $ARGV[2]) ? 0 : 1);
}
chdir '/usr/share/doona' or die "chdir: $!";
$0 = '/usr/share/doona/doona.pl';
my $r = do '/usr/share/doona/doona.pl';
die $@ if $@;
PERL

health() { perl "$work/run-doona.pl" --check "$store" "$port"; }
export DOONA_HEALTH_LOG="$work/health.log"
: >"$DOONA_HEALTH_LOG"

t0=$(date +%s.%N)
deadline=$(( $(date +%s) + limit ))
next=$start
left=$max
aborted=0      # cases cut short by doona itself (it exits on SIGPIPE when the server has closed)
verdict=yes
why=
while [ "$left" -gt 0 ]; do
  remain=$(( deadline - $(date +%s) ))
  if [ "$remain" -le 0 ]; then why="time limit of ${limit}s reached"; break; fi
  before=$(grep -c . "$DOONA_HEALTH_LOG")
  timeout -k 5 "$remain" perl "$work/run-doona.pl" -m SMTP -t "$store" -p "$port" -u alice@corp.example \
    -o 0 -c 1 -r "$next" -M "$left" >"$work/doona.out" 2>&1
  rc=$?
  after=$(grep -c . "$DOONA_HEALTH_LOG")
  done_now=$(( after - before ))
  if grep -q FAILED "$DOONA_HEALTH_LOG"; then
    verdict=no; why="STORE stopped answering after case $(( next + done_now - 1 ))"; break
  fi
  if grep -q "Max requests ($left) completed" "$work/doona.out" || grep -q "All tests done" "$work/doona.out"; then
    left=0
    break
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="time limit of ${limit}s reached"; break; fi
  last=$(grep -o 'current test case index: ([0-9]*)' "$work/doona.out" | grep -o '[0-9]*' | tail -1)
  if [ -n "$last" ]; then
    # doona caught SIGPIPE in case $last (the server had closed the connection,
    # e.g. after 421 too many errors); check the server ourselves and go on.
    if ! health; then verdict=no; why="STORE stopped answering after case $last"; break; fi
    aborted=$(( aborted + 1 ))
    left=$(( left - (last - next + 1) ))
    next=$(( last + 1 ))
    continue
  fi
  # doona died on its own check ("Problem (n) occured with ... (idx)": no reply at all).
  verdict=no
  why="doona: $(grep -E 'Problem|failed|died|Unknown' "$work/doona.out" | tail -1)"
  break
done
t1=$(date +%s.%N)
cases=$(( $(grep -c '^ok$' "$DOONA_HEALTH_LOG") + aborted ))

# --- the lab afterwards -------------------------------------------------------
if ! kill -0 "$pid" 2>/dev/null; then verdict=no; why="${why:+$why; }mailsim is gone"; fi
if [ "$verdict" = yes ] && ! health; then verdict=no; why="${why:+$why; }STORE does not answer at the end"; fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
code=$?
pid=
[ "$code" -eq 0 ] || { verdict=no; why="${why:+$why; }mailsim exited $code on SIGTERM"; }
if grep -qE "runtime error:|AddressSanitizer|LeakSanitizer" "$work/stderr"; then
  verdict=no; why="${why:+$why; }sanitizer report"
  grep -E -A20 "runtime error:|AddressSanitizer|LeakSanitizer" "$work/stderr" | head -60 >&2
fi

secs=$(python3 -c "print('%.1f' % ($t1 - $t0))")
echo "doona.sh: cases $start..$(( start + cases - 1 )) in ${secs}s ($(python3 -c "print('%.0f' % ($cases / max($t1 - $t0, 0.001)))") cases/s), $aborted ended early by doona (SIGPIPE after the server closed)${why:+; $why}"
[ "$verdict" = yes ] || tail -20 "$work/doona.out" >&2
echo "RESULT doona cases=$cases answered_after_each=$verdict"
[ "$verdict" = yes ]
