#!/usr/bin/env bash
# Runs ChatFunctions locally and tells you the one URL to open.
#
#   Without Azure Functions Core Tools (or with CHAT_HOST_MODE=standalone): the same functions on the
#   standalone ASP.NET Core host, API and chat page together on http://localhost:7071.
#   With Core Tools (`func` on PATH, or CHAT_HOST_MODE=functions): Azurite, `func start` for the API on :7071,
#   and the Static Web Apps CLI serving the page against it on http://localhost:4280.
#
# Settings come from local.settings.json "Values" (copy local.settings.sample.json) or environment variables;
# with none set, the built-in demo model answers. Extra arguments go to the app (e.g. --urls http://0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
configuration=Release
out="$root/ChatFunctions/bin/$configuration/net10.0"

# Read by the .NET runtime at start (not a setting the app reads): what the deployment sets (infra/app/api.bicep).
export DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION="${DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION:-256}"

mode="${CHAT_HOST_MODE:-auto}"
if [ "$mode" = auto ]; then
  if command -v func >/dev/null 2>&1; then mode=functions; else mode=standalone; fi
fi

# The page: build when missing or older than its sources.
page=static-web/dist/index.html
if [ ! -f "$page" ] || [ -n "$(find static-web/src static-web/public static-web/index.html static-web/package.json -newer "$page" -print -quit 2>/dev/null)" ]; then
  echo "Building the chat page (static-web)..."
  (cd static-web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build)
fi

echo "Building the Functions app..."
dotnet build ChatFunctions/ChatFunctions.csproj -c "$configuration" --nologo -v quiet -clp:ErrorsOnly

if [ "$mode" = standalone ]; then
  echo "Starting the standalone host: open http://localhost:7071 (Ctrl+C stops)."
  CHAT_HOST_MODE=standalone CHAT_WEB_ROOT="${CHAT_WEB_ROOT:-$root/static-web/dist}" exec dotnet "$out/ChatFunctions.dll" "$@"
fi

# The Functions way: Azurite for AzureWebJobsStorage, func start for the API, the SWA CLI for the page.
if [ ! -f local.settings.json ]; then
  cp local.settings.sample.json local.settings.json
  echo "Created local.settings.json from local.settings.sample.json (git-ignored; edit it to configure a model)."
  dotnet build ChatFunctions/ChatFunctions.csproj -c "$configuration" --nologo -v quiet -clp:ErrorsOnly
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if ! scripts/azurite.sh --check >/dev/null 2>&1; then
  scripts/azurite.sh -- --silent &
  pids+=($!)
fi

swa_dir="$root/.tools/swa-cli"
if [ ! -x "$swa_dir/node_modules/.bin/swa" ]; then
  mkdir -p "$swa_dir" && [ -f "$swa_dir/package.json" ] || printf '{ "name": "swa-cli-tool", "private": true }\n' > "$swa_dir/package.json"
  npm install --prefix "$swa_dir" --no-audit --no-fund --loglevel=error @azure/static-web-apps-cli@2
fi
"$swa_dir/node_modules/.bin/swa" start static-web/dist --api-devserver-url http://localhost:7071 --port 4280 &
pids+=($!)

echo "Starting the Functions host: open http://localhost:4280 (the API alone is on http://localhost:7071)."
(cd "$out" && func start --port 7071 "$@")
