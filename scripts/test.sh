#!/usr/bin/env bash
# Runs every test: the page's unit tests (beside the .NET build), then .NET unit, HTTP, wire, infrastructure and benchmark
# smoke tests, then the page's browser tests against the real backend. Installs what it needs (Chromium from Debian, npm
# packages).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
configuration=Release

started=$SECONDS
step() { printf '\n== [%s, +%ds] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS - started))" "$*"; }

# The installs and the .NET build touch different things (apt, static-web/node_modules, separate folders under .tools/,
# the dotnet tool cache, bin/obj), so they run side by side; each background step logs to its own file, which is printed
# when it is waited for, and a failed one fails the script. The tests that follow run one step at a time: some measure
# time, and they must not share the cores with anything of ours.
logs=$(mktemp -d)
pids=()
names=()
background() {
  local name=$1
  shift
  step "$name (in the background)"
  # The log, printed only once the build is done, ends with the time the step itself ended.
  (if "$@"; then status=0; else status=$?; fi; echo "(ended at +$((SECONDS - started))s)"; exit "$status") >"$logs/${#pids[@]}.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
}
wait_all() {
  local failed=0 i status
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then status=0; else status=$?; fi
    step "${names[$i]}: $([ "$status" -eq 0 ] && echo done || echo "FAILED ($status)")"
    cat "$logs/$i.log"
    [ "$status" -eq 0 ] || failed=1
  done
  rm -rf "$logs"
  return "$failed"
}

install_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
  fi
  chromium --version
}

background "Chromium for the browser tests" install_chromium
# The page's unit tests follow its build in the same background step: none of them measures time (vite.config.ts), so
# they may share the cores with the .NET build, and the timed steps below still run with nothing of ours beside them.
background "Page: install, build (the backend serves static-web/dist) and unit tests" \
  bash -c 'cd static-web && npm ci --no-audit --no-fund && npm run build && npm test'
background "Azurite for the storage tests (npm, into .tools/)" ./scripts/azurite.sh --install
background "Tools the deploy tests call: PowerShell 7 (dotnet tool, for the .ps1 hooks), the SWA CLI (npm, into .tools/)" \
  bash -c 'dotnet tool restore && ./scripts/swa-cli.sh --install'

step ".NET: build"
# Our projects treat warnings as errors (Directory.Build.props); the Worker SDK's generated extension project must not.
if dotnet build ChatFunctions.sln -c "$configuration" --nologo -v quiet -clp:ErrorsOnly; then built=0; else built=$?; fi
wait_all
[ "$built" -eq 0 ] || { echo ".NET build failed ($built)" >&2; exit "$built"; }

step ".NET: tests"
# A test host that reports no test starting or ending for 5 minutes is stopped, and the run fails naming the tests it
# was running (and writes their order to a Sequence_*.xml under TestResults/). 5 minutes is above every bound a test sets
# itself (the longest, 3 minutes, for the Bicep CLI and for Azurite to listen; a whole run takes about 3 minutes), so a
# test that is only slow still fails with its own message; a hang costs 5 minutes instead of the CI job's timeout.
# No dump: the names are what the log needs, and a test host's dump is hundreds of MB.
dotnet test ChatFunctions.sln -c "$configuration" --no-build --nologo --logger "console;verbosity=normal" \
  --blame-hang-timeout 5m --blame-hang-dump-type none

step "Page: browser tests against the real backend (demo model)"
# The page was built above (the backend serves static-web/dist) and nothing has changed it since.
(cd static-web && CHATFUNCTIONS_DLL="$root/ChatFunctions/bin/$configuration/net10.0/ChatFunctions.dll" npm run test:e2e:built)

step "All tests passed"
