#!/usr/bin/env bash
# Build the container test images from root filesystem tarballs (no registry
# is reachable) and import them into every engine that lacks them:
#
#   gantry-test/busybox:1     busybox-static applets only (sh is busybox ash; no bash)
#   gantry-test/debian:12     Debian bookworm minbase (bash, coreutils, tar) made with debootstrap
#   gantry-test/noshell:1     a single static binary and no /bin/sh (for the error path)
#
# Tarballs are cached in $GANTRY_IMAGE_CACHE (default /var/cache/gantry-test-images),
# so a second run only imports. Idempotent.
set -euo pipefail
cache="${GANTRY_IMAGE_CACHE:-/var/cache/gantry-test-images}"
mkdir -p "$cache"

mirror() {
  local uri
  uri=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
  [[ -n "$uri" ]] || uri=$(sed -n 's/^deb \[*[^]]*\]* *\(http[^ ]*\) bookworm .*/\1/p;s/^deb \(http[^ ]*\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

base_tree() { # dir: the directories every image has
  mkdir -p "$1"/{bin,dev,proc,sys,tmp,root,etc,workspace}
  chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/etc/group"
}

build_busybox() {
  local out="$cache/busybox.tar" tmp
  [[ -s "$out" ]] && return 0
  echo "build-test-images: busybox rootfs"
  tmp=$(mktemp -d)
  base_tree "$tmp"
  cp /bin/busybox "$tmp/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$tmp/bin/$applet"
  done
  ln -s bin "$tmp/sbin"
  mkdir -p "$tmp/usr"
  ln -s ../bin "$tmp/usr/bin"
  tar -C "$tmp" --numeric-owner -cf "$out.part" .
  mv "$out.part" "$out"
  rm -rf "$tmp"
}

build_noshell() {
  local out="$cache/noshell.tar" tmp
  [[ -s "$out" ]] && return 0
  tmp=$(mktemp -d)
  mkdir -p "$tmp"/{dev,proc,sys,etc}
  cp /bin/busybox "$tmp/tool"
  tar -C "$tmp" --numeric-owner -cf "$out.part" .
  mv "$out.part" "$out"
  rm -rf "$tmp"
}

build_debian() {
  local out="$cache/debian.tar" tmp
  [[ -s "$out" ]] && return 0
  echo "build-test-images: debootstrap bookworm minbase from $(mirror) (takes a few minutes, cached afterwards)"
  tmp=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$tmp" "$(mirror)" >"$cache/debootstrap.log" 2>&1 || {
    tail -20 "$cache/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/proc/* "$tmp"/sys/* "$tmp"/dev/* 2>/dev/null || true
  mkdir -p "$tmp/workspace"
  tar -C "$tmp" --numeric-owner -cf "$out.part" .
  mv "$out.part" "$out"
  rm -rf "$tmp"
}

have_image() { # engine image
  if [[ "$1" == docker ]]; then docker image inspect "$2" >/dev/null 2>&1; else podman image exists "$2"; fi
}

import_image() { # engine tarball image cmd
  local engine="$1" tar="$2" image="$3" cmd="$4"
  have_image "$engine" "$image" && return 0
  echo "build-test-images: importing $image into $engine"
  "$engine" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "CMD $cmd" \
    "$tar" "$image" >/dev/null
}

build_busybox
build_noshell
build_debian

engines=()
if curl -fsS --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1; then engines+=(docker); fi
if command -v podman >/dev/null && podman info >/dev/null 2>&1; then engines+=(podman); fi
for engine in "${engines[@]}"; do
  import_image "$engine" "$cache/busybox.tar" gantry-test/busybox:1 '["/bin/sh"]'
  import_image "$engine" "$cache/noshell.tar" gantry-test/noshell:1 '["/tool"]'
  import_image "$engine" "$cache/debian.tar" gantry-test/debian:12 '["/bin/bash"]'
done
echo "build-test-images: ready in ${engines[*]:-no engine}"
