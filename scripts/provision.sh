#!/usr/bin/env bash
# Provision what the test suites need on a Debian machine. Idempotent: run it
# as often as you like. PostgreSQL is expected to be running already (checked
# at the end). The tests never start a service: this script does.
set -euo pipefail

need_pkgs=()
command -v git >/dev/null || need_pkgs+=(git)
command -v gpg >/dev/null || need_pkgs+=(gnupg)
command -v make >/dev/null || need_pkgs+=(make)
command -v bash >/dev/null || need_pkgs+=(bash)

if ((${#need_pkgs[@]})); then
  echo "provision: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
echo "provision: git $(git --version | cut -d' ' -f3), gpg $(gpg --version | head -1 | cut -d' ' -f3)"

# Services of the integration suites, each idempotent.
here="$(cd "$(dirname "$0")" && pwd)"
for part in provision-sshd.sh provision-containers.sh; do
  if [[ -f "$here/$part" ]]; then bash "$here/$part"; fi
done

# PostgreSQL is not installed here, only checked: the suites use GANTRY_TEST_DATABASE_URL or 127.0.0.1:5432.
pg_url="${GANTRY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null; then
  pg_isready -q -d "$pg_url" -t 10 || { echo "provision: PostgreSQL does not answer at $pg_url; start it (the postgres suites need it)" >&2; exit 1; }
  echo "provision: PostgreSQL answers at $pg_url"
else
  echo "provision: pg_isready not found; not checking PostgreSQL at $pg_url"
fi
