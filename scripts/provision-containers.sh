#!/usr/bin/env bash
# Provision Docker and Podman for the container executor's tests and
# benchmark, and build the local test images (no registry is reachable).
# Idempotent: run it as often as you like; daemons already running are left alone.
#
#   Docker: Debian's docker.io; dockerd started in the background (log in /var/log/gantry-dockerd.log)
#   Podman: Debian's podman with runc (crun cannot set rlimits here), its
#           Docker-compatible API on unix:///run/podman/podman.sock
#   Images: scripts/build-test-images.sh (gantry-test/busybox, gantry-test/debian)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
[[ -x /usr/bin/podman ]] || need_pkgs+=(podman)
command -v runc >/dev/null || need_pkgs+=(runc)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
[[ -x /bin/busybox ]] || need_pkgs+=(busybox-static)
command -v iptables >/dev/null || need_pkgs+=(iptables)

if ((${#need_pkgs[@]})); then
  echo "provision-containers: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not let the packages start services through init scripts: we start the daemons ourselves.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ---------------------------------------------------------------- podman configuration
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
touch "$conf"
python3 - "$conf" <<'PY' 2>/dev/null || {
import re, sys
path = sys.argv[1]
text = open(path).read()
def ensure(text, section, key, value):
    line = f"{key} = {value}"
    pat = re.compile(r"^\[" + re.escape(section) + r"\][ \t]*$", re.M)
    m = pat.search(text)
    if not m:
        return text.rstrip("\n") + f"\n\n[{section}]\n{line}\n"
    start = m.end()
    nxt = re.search(r"^\[", text[start:], re.M)
    end = start + nxt.start() if nxt else len(text)
    body = text[start:end]
    # [ \t]*, not \s*: a pattern that crosses newlines would join the key to the line before it.
    kp = re.compile(r"^[ \t]*#?[ \t]*" + re.escape(key) + r"[ \t]*=.*$", re.M)
    body = kp.sub(line, body, count=1) if kp.search(body) else "\n" + line + body
    return text[:start] + body + text[end:]
text = ensure(text, "containers", "default_ulimits", "[]")
text = ensure(text, "engine", "runtime", '"runc"')
open(path, "w").write(text)
PY
  # No python3: write the whole file when it does not say what we need yet.
  grep -q '^runtime = "runc"' "$conf" || printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf"
}

# ---------------------------------------------------------------- daemons
wait_for() { # socket, seconds
  local i=0
  while ((i < $2 * 10)); do
    curl -fsS --unix-socket "$1" http://d/_ping >/dev/null 2>&1 && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

if ! curl -fsS --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1; then
  echo "provision-containers: starting dockerd"
  setsid nohup dockerd >/var/log/gantry-dockerd.log 2>&1 </dev/null &
  wait_for /var/run/docker.sock 60 || { echo "provision-containers: dockerd did not start:" >&2; tail -20 /var/log/gantry-dockerd.log >&2; exit 1; }
fi

mkdir -p /run/podman
if ! curl -fsS --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1; then
  echo "provision-containers: starting podman system service"
  rm -f /run/podman/podman.sock
  setsid nohup podman system service --time=0 unix:///run/podman/podman.sock >/var/log/gantry-podman.log 2>&1 </dev/null &
  wait_for /run/podman/podman.sock 60 || { echo "provision-containers: podman service did not start:" >&2; tail -20 /var/log/gantry-podman.log >&2; exit 1; }
fi

echo "provision-containers: docker $(curl -fsS --unix-socket /var/run/docker.sock http://d/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1), podman $(podman --version | cut -d' ' -f3)"

bash "$here/build-test-images.sh"

# ---------------------------------------------------------------- verify
# The test suites never start an engine (test/support/services.ts): both must answer here, with the images.
for socket in /var/run/docker.sock /run/podman/podman.sock; do
  curl -fsS --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 || { echo "provision-containers: nothing answers at $socket" >&2; exit 1; }
  for image in gantry-test/busybox:1 gantry-test/debian:12 gantry-test/noshell:1; do
    curl -fsS --unix-socket "$socket" "http://d/images/$image/json" >/dev/null 2>&1 || {
      echo "provision-containers: image $image is missing behind $socket" >&2
      exit 1
    }
  done
done
echo "provision-containers: docker and podman answer with the test images"
