# Shared by the bench scripts: measuring a server's CPU the way perfkit does,
# from the scheduler's per-thread run time, over the server and its children.
# shellcheck shell=bash

# All descendants of a pid, the pid first.
pid_tree() {
    local out=$1 c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do out="$out $(pid_tree "$c")"; done
    echo "$out"
}
# CPU time (ns) run so far by the given pids, all their threads (schedstat field 1).
cpu_ns() {
    local sum=0 p f a
    for p in "$@"; do
        for f in /proc/"$p"/task/*/schedstat; do
            read -r a _ <"$f" 2>/dev/null && sum=$((sum + a))
        done
    done
    echo "$sum"
}
