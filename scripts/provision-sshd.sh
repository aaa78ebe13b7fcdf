#!/usr/bin/env bash
# Provision OpenSSH for the SSH executor's tests and benchmark: the test
# setup (test/support/sshd.ts) starts its own `sshd -D -f CONFIG -e`
# processes on loopback ports with throw-away keys, so all this needs is
# the server binary, ssh-keygen and tar. Idempotent: run it as often as you like.
set -euo pipefail

need_pkgs=()
[[ -x /usr/sbin/sshd ]] || need_pkgs+=(openssh-server)
command -v ssh-keygen >/dev/null || need_pkgs+=(openssh-client)
command -v tar >/dev/null || need_pkgs+=(tar)
command -v setsid >/dev/null || need_pkgs+=(util-linux)

if ((${#need_pkgs[@]})); then
  echo "provision-sshd: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not let the package start a system-wide sshd on port 22: tests start their own.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# sshd refuses to start without its privilege-separation directory.
mkdir -p /run/sshd
chmod 0755 /run/sshd

echo "provision-sshd: $(/usr/sbin/sshd -V 2>&1 | head -1)"
