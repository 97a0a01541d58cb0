#!/usr/bin/env bash
# Installs everything the library and its tests need: the Debian packages the tests use
# (Fashion-MNIST, headless Chromium and its WebDriver) and a venv `.venv` with the
# package and its test extras. Safe to re-run. Then: `. .venv/bin/activate`.
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

# Fashion-MNIST (Debian package) is one of the offline datasets the tests train on.
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  apt_install dataset-fashion-mnist
fi
# Headless Chromium and its WebDriver (Debian's) for the human-evaluation browser test.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt_install chromium chromium-driver
fi

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
