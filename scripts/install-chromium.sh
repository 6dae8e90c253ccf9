#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests (test/browser, docs/CONSOLE.md), when
# /usr/bin/chromium is missing. playwright-core drives it; Playwright never downloads a browser here.
# Exits non-zero with a message saying what to do when it cannot install it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "${CHROMIUM}" ]; then
  echo "install-chromium: ${CHROMIUM} is present ($("${CHROMIUM}" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

fail() {
  echo "install-chromium: cannot install chromium: $1" >&2
  echo "install-chromium: install Debian's chromium package yourself (\`sudo apt-get install chromium\`) so that ${CHROMIUM} exists; the console's browser tests need it." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (not a Debian or Ubuntu system)"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "not root, and sudo is not available without a password"
  fi
fi

echo "install-chromium: ${CHROMIUM} missing; installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq || fail "apt-get update failed"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium || fail "apt-get install chromium failed"
[ -x "${CHROMIUM}" ] || fail "the chromium package installed, but ${CHROMIUM} is not there"
echo "install-chromium: installed $("${CHROMIUM}" --version 2>/dev/null || echo chromium)"
