#!/usr/bin/env bash
# Azurite, the Azure Storage emulator, for local Functions runs: the Functions host needs
# AzureWebJobsStorage, and local.settings.json points it here with UseDevelopmentStorage=true.
#
# Azurite comes from npm and is installed on first use into .tools/ (git-ignored), pinned, so
# nothing is installed globally and every machine runs the same version.
#
#   scripts/azurite.sh                 install if missing, then run in the foreground (Ctrl+C stops)
#   scripts/azurite.sh --check         exit 0 when Azurite answers on the blob port, 1 otherwise
#   scripts/azurite.sh --install       install only
#   scripts/azurite.sh --blob-port 20000 --queue-port 20001 --table-port 20002 --location /tmp/az
#   scripts/azurite.sh -- --silent     anything after -- goes to azurite as is
#
# Environment: AZURITE_VERSION (pin; default below), AZURITE_TOOLS_DIR (default <repo>/.tools).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# 3.35.0 is the newest Azurite that runs on Node.js 20 (3.36 needs 21+, 3.37 needs 22+).
AZURITE_VERSION="${AZURITE_VERSION:-3.35.0}"
TOOLS_DIR="${AZURITE_TOOLS_DIR:-$ROOT/.tools}"
INSTALL_DIR="$TOOLS_DIR/azurite-$AZURITE_VERSION"
AZURITE_BIN="$INSTALL_DIR/node_modules/.bin/azurite"

HOST=127.0.0.1
BLOB_PORT=10000
QUEUE_PORT=10001
TABLE_PORT=10002
LOCATION="$ROOT/.azurite"
MODE=run
EXTRA_ARGS=()

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --check) MODE=check; shift ;;
    --install) MODE=install; shift ;;
    --host) HOST="$2"; shift 2 ;;
    --blob-port) BLOB_PORT="$2"; shift 2 ;;
    --queue-port) QUEUE_PORT="$2"; shift 2 ;;
    --table-port) TABLE_PORT="$2"; shift 2 ;;
    --location) LOCATION="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA_ARGS=("$@"); break ;;
    *) echo "azurite.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

require_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "azurite.sh: Node.js and npm are required (https://nodejs.org)." >&2
    exit 1
  fi
}

installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { process.exit(1) }' \
    "$INSTALL_DIR/node_modules/azurite/package.json" 2>/dev/null || true
}

install_azurite() {
  require_node
  if [[ -x "$AZURITE_BIN" && "$(installed_version)" == "$AZURITE_VERSION" ]]; then
    return 0
  fi
  mkdir -p "$INSTALL_DIR"
  # Test classes start Azurite in parallel: one installs, the others wait for it and then find it installed.
  exec 9>"$INSTALL_DIR.lock"
  flock 9
  if [[ -x "$AZURITE_BIN" && "$(installed_version)" == "$AZURITE_VERSION" ]]; then
    flock -u 9
    return 0
  fi
  echo "azurite.sh: installing azurite@$AZURITE_VERSION into ${INSTALL_DIR#"$ROOT"/}" >&2
  # A folder of its own with a package.json keeps npm from walking up into the repository.
  if [[ ! -f "$INSTALL_DIR/package.json" ]]; then
    printf '{ "name": "azurite-tool", "private": true }\n' > "$INSTALL_DIR/package.json"
  fi
  npm install --prefix "$INSTALL_DIR" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2
  if [[ ! -x "$AZURITE_BIN" ]]; then
    echo "azurite.sh: install finished but $AZURITE_BIN is missing" >&2
    exit 1
  fi
  flock -u 9
}

# Azurite answers an unauthenticated list-containers call with 403, but with its own Server header.
check_azurite() {
  require_node
  node -e '
    const http = require("node:http");
    const [host, port] = process.argv.slice(1);
    const req = http.get({ host, port, path: "/devstoreaccount1?comp=list", timeout: 3000 }, res => {
      const server = String(res.headers["server"] ?? "");
      res.resume();
      if (server.startsWith("Azurite-Blob")) { console.log(`Azurite answers on ${host}:${port} (${server})`); process.exit(0); }
      console.error(`${host}:${port} answers, but not as Azurite (Server: ${server || "none"})`); process.exit(1);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", err => { console.error(`Azurite is not answering on ${host}:${port}: ${err.message}`); process.exit(1); });
  ' "$HOST" "$BLOB_PORT"
}

case "$MODE" in
  check)
    check_azurite
    ;;
  install)
    install_azurite
    echo "$AZURITE_BIN"
    ;;
  run)
    install_azurite
    mkdir -p "$LOCATION"
    echo "azurite.sh: blob $HOST:$BLOB_PORT, queue $HOST:$QUEUE_PORT, table $HOST:$TABLE_PORT, data in $LOCATION" >&2
    # exec: the caller's PID is Azurite's, so stopping it is one signal.
    exec "$AZURITE_BIN" \
      --blobHost "$HOST" --blobPort "$BLOB_PORT" \
      --queueHost "$HOST" --queuePort "$QUEUE_PORT" \
      --tableHost "$HOST" --tablePort "$TABLE_PORT" \
      --location "$LOCATION" \
      --skipApiVersionCheck \
      --disableTelemetry \
      ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}
    ;;
esac
