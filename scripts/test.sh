#!/usr/bin/env bash
# Runs every test: .NET unit, HTTP, wire, infrastructure and benchmark smoke tests, then the page's unit tests
# and its browser tests against the real backend. Installs what it needs (Chromium from Debian, npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
configuration=Release

step() { printf '\n== %s\n' "$*"; }

step "Chromium for the browser tests"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
chromium --version

step "Page: install and build (the backend serves static-web/dist)"
(cd static-web && npm ci --no-audit --no-fund && npm run build)

step "Azurite for the storage tests (npm, into .tools/)"
./scripts/azurite.sh --install

step "Tools the deploy tests call: PowerShell 7 (dotnet tool, for the .ps1 hooks), the SWA CLI (npm, into .tools/)"
dotnet tool restore
./scripts/swa-cli.sh --install

step ".NET: build"
# Our projects treat warnings as errors (Directory.Build.props); the Worker SDK's generated extension project must not.
dotnet build ChatFunctions.sln -c "$configuration" --nologo -v quiet -clp:ErrorsOnly

step ".NET: tests"
dotnet test ChatFunctions.sln -c "$configuration" --no-build --nologo --logger "console;verbosity=normal"

step "Page: unit tests"
(cd static-web && npm test)

step "Page: browser tests against the real backend (demo model)"
# The page was built above (the backend serves static-web/dist) and nothing has changed it since.
(cd static-web && CHATFUNCTIONS_DLL="$root/ChatFunctions/bin/$configuration/net10.0/ChatFunctions.dll" npm run test:e2e:built)

step "All tests passed"
