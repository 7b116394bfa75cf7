#!/usr/bin/env bash
# The Static Web Apps CLI (npm @azure/static-web-apps-cli), the tool azd runs as `swa deploy` to upload the page.
# Installed, pinned, into .tools/ (git-ignored) for the tests that ask the CLI itself which files it would upload.
#
#   scripts/swa-cli.sh --install     install if missing; prints the package folder
#
# Install scripts are skipped: the one native dependency (keytar, for the CLI's login keychain) is not used by
# what the tests call, and it builds only with libsecret headers or a prebuilt binary from GitHub.
# Environment: SWA_CLI_VERSION (pin; default below), SWA_CLI_TOOLS_DIR (default <repo>/.tools).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SWA_CLI_VERSION="${SWA_CLI_VERSION:-2.0.10}"
TOOLS_DIR="${SWA_CLI_TOOLS_DIR:-$ROOT/.tools}"
INSTALL_DIR="$TOOLS_DIR/swa-cli-$SWA_CLI_VERSION"
PACKAGE_DIR="$INSTALL_DIR/node_modules/@azure/static-web-apps-cli"

case "${1:-}" in
  --install) ;;
  -h|--help|"") sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "swa-cli.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

if ! command -v npm >/dev/null 2>&1; then
  echo "swa-cli.sh: Node.js and npm are required (https://nodejs.org)." >&2
  exit 1
fi

installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { process.exit(1) }' \
    "$PACKAGE_DIR/package.json" 2>/dev/null || true
}

if [[ "$(installed_version)" != "$SWA_CLI_VERSION" ]]; then
  mkdir -p "$INSTALL_DIR"
  # Test files may ask for it at the same time: one installs, the others wait and then find it installed.
  exec 9>"$INSTALL_DIR.lock"
  flock 9
  if [[ "$(installed_version)" != "$SWA_CLI_VERSION" ]]; then
    echo "swa-cli.sh: installing @azure/static-web-apps-cli@$SWA_CLI_VERSION into ${INSTALL_DIR#"$ROOT"/}" >&2
    # A folder of its own with a package.json keeps npm from walking up into the repository.
    [[ -f "$INSTALL_DIR/package.json" ]] || printf '{ "name": "swa-cli-tool", "private": true }\n' > "$INSTALL_DIR/package.json"
    npm install --prefix "$INSTALL_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
      "@azure/static-web-apps-cli@$SWA_CLI_VERSION" >&2
    if [[ "$(installed_version)" != "$SWA_CLI_VERSION" ]]; then
      echo "swa-cli.sh: install finished but $PACKAGE_DIR holds no $SWA_CLI_VERSION" >&2
      exit 1
    fi
  fi
  flock -u 9
fi
echo "$PACKAGE_DIR"
