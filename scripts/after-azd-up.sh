#!/bin/sh
# After `azd up`: checks from outside, with curl, what the browser needs for the deployed page to reach its API.
#   1. the page's /config.json names the API (API_BASE_URL)
#   2. the page's Content-Security-Policy lets it connect to the API's origin
#   3. the API answers a CORS preflight for a chat POST from the page's origin
#   4. one short reply streams through the deployed API (sent with the page's Origin)
#
#   ./scripts/after-azd-up.sh                  WEB_URI and API_BASE_URL from the azd environment (azd env get-value)
#   WEB_URI=https://… API_BASE_URL=https://… ./scripts/after-azd-up.sh
#   CHAT_ACCESS_TOKEN=<token> ./scripts/after-azd-up.sh
#       with sign-in on, step 4 sends it; without one it only checks that the API refuses an anonymous chat (401).
#       A token: az account get-access-token --scope api://<AZURE_AUTH_API_CLIENT_ID>/chat --query accessToken -o tsv
#
# Prints PASS/FAIL per check and exits 1 when any failed. Sends one chat message (a few tokens are spent).
set -eu

setting() {
  eval "v=\${$1:-}"
  if [ -z "$v" ] && command -v azd >/dev/null 2>&1; then
    v=$(azd env get-value "$1" 2>/dev/null || true)
  fi
  printf '%s' "$v"
}

web=$(setting WEB_URI)
api=$(setting API_BASE_URL)
if [ -z "$web" ] || [ -z "$api" ]; then
  echo "after-azd-up: WEB_URI and API_BASE_URL are needed: run it where azd's environment is, or set both." >&2
  exit 2
fi
web=${web%/}
api=${api%/}
origin_of() { printf '%s' "$1" | sed 's#^\([A-Za-z][A-Za-z0-9+.-]*://[^/]*\).*#\1#'; }
web_origin=$(origin_of "$web")
api_origin=$(origin_of "$api")
timeout=${CHECK_TIMEOUT_SECONDS:-30}

failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# A response header's value (first one, case-insensitive name) from curl -D output in $1.
header() { printf '%s\n' "$1" | tr -d '\r' | awk -v n="$2" 'index(tolower($0), n ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }'; }
status_of() { printf '%s\n' "$1" | tr -d '\r' | sed -n 's#^HTTP/[0-9.]* \([0-9][0-9][0-9]\).*#\1#p' | tail -n 1; }

echo "Page $web, API $api"

# 1. config.json: what the page reads at start-up to find the API.
config=$(curl -fsS --max-time "$timeout" "$web/config.json" 2>&1) || config=""
configured=$(printf '%s' "$config" | tr -d '\n' | sed -n 's/.*"apiBaseUrl"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
if [ "${configured%/}" = "$api" ]; then
  pass "config.json names the API ($configured)"
else
  fail "config.json: apiBaseUrl is '${configured}', not $api (was the web service's predeploy hook run? azd deploy web)"
fi
case "$config" in *'"auth"'*'{'*) signin=true ;; *) signin=false ;; esac

# 2. The page's CSP: connect-src must name the API's origin, or the browser blocks every chat.
page_headers=$(curl -fsS --max-time "$timeout" -o /dev/null -D - "$web/" 2>&1) || page_headers=""
connect=$(header "$page_headers" "content-security-policy" | tr ';' '\n' | sed 's/^[[:space:]]*//' | grep '^connect-src ' || true)
case " $connect " in
  *" $api_origin "*) pass "the page's CSP allows the API ($connect)" ;;
  *) fail "the page's CSP does not allow $api_origin: '${connect:-no connect-src}'" ;;
esac

# 3. CORS preflight, as the browser sends it before the page's POST.
preflight=$(curl -sS --max-time "$timeout" -o /dev/null -D - -X OPTIONS "$api/api/chat/stream" \
  -H "Origin: $web_origin" -H "Access-Control-Request-Method: POST" \
  -H "Access-Control-Request-Headers: content-type,authorization" 2>&1) || preflight=""
status=$(status_of "$preflight")
allowed=$(header "$preflight" "access-control-allow-origin")
case "$status" in
  2??) if [ "$allowed" = "$web_origin" ]; then
         pass "CORS preflight from $web_origin: $status, allowed"
       else
         fail "CORS preflight from $web_origin: $status, but Access-Control-Allow-Origin is '${allowed}'"
       fi ;;
  *) fail "CORS preflight from $web_origin: HTTP '${status:-no answer}'" ;;
esac

# 4. One short reply through the deployed API, read the way the page reads it.
body=$(mktemp)
trap 'rm -f "$body"' EXIT
message='{"message":"Reply with the single word OK."}'
if [ -n "${CHAT_ACCESS_TOKEN:-}" ]; then
  stream_headers=$(curl -sS -N --max-time 120 -o "$body" -D - -X POST "$api/api/chat/stream" -H "Origin: $web_origin" \
    -H "Content-Type: application/json" -H "Accept: text/event-stream" -H "Authorization: Bearer $CHAT_ACCESS_TOKEN" \
    --data "$message" 2>&1) || stream_headers=""
else
  stream_headers=$(curl -sS -N --max-time 120 -o "$body" -D - -X POST "$api/api/chat/stream" -H "Origin: $web_origin" \
    -H "Content-Type: application/json" -H "Accept: text/event-stream" --data "$message" 2>&1) || stream_headers=""
fi
status=$(status_of "$stream_headers")
allowed=$(header "$stream_headers" "access-control-allow-origin")
if [ "$status" = "401" ] && [ "$signin" = true ] && [ -z "${CHAT_ACCESS_TOKEN:-}" ]; then
  pass "sign-in is on: an anonymous chat is refused (401); set CHAT_ACCESS_TOKEN to stream a reply"
elif [ "$status" = "200" ] && grep -q '^data: {"chunk"' "$body" && grep -q '^data: {"done":true' "$body"; then
  if [ "$allowed" = "$web_origin" ]; then
    pass "a reply streamed from the API: $(grep -c '^data: {"chunk"' "$body") chunks, then done"
  else
    fail "a reply streamed, but without Access-Control-Allow-Origin $web_origin the page cannot read it ('${allowed}')"
  fi
else
  fail "chat stream: HTTP '${status:-no answer}'; first lines: $(head -c 300 "$body" | tr '\n' ' ')"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed."
  exit 1
fi
echo "All checks passed."
