#!/usr/bin/env bash
# Installs the Debian 12 packages mailsim needs, only those missing.
#   scripts/install-deps.sh build   what ./run.sh needs
#   scripts/install-deps.sh test    that, plus the test clients and references
#   scripts/install-deps.sh bench   that, plus Postfix (smtp-sink, smtp-source) for bench/smtp.sh
set -euo pipefail

build=(cmake ninja-build g++ pkg-config libboost1.81-dev libboost-json1.81-dev libtomlplusplus-dev libcli11-dev libedit-dev)
test=(libgtest-dev libgmock-dev bind9-dnsutils swaks python3 nsd dnsperf netcat-openbsd libsisimai-perl tmux doona chromium)

bench=(postfix)

want=("${build[@]}")
[[ "${1:-build}" == test || "${1:-build}" == bench ]] && want+=("${test[@]}")
[[ "${1:-build}" == bench ]] && want+=("${bench[@]}")

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
# Package scripts must not start daemons (nsd) that would take port 53.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Postfix is only wanted for its smtp-sink and smtp-source: no mail daemon.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
    echo 'postfix postfix/main_mailer_type select No configuration' | "${sudo[@]}" debconf-set-selections
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
