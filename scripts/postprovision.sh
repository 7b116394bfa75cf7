#!/bin/sh
# azd postprovision hook (azure.yaml): with sign-in on, the page's app registration gets the Static Web App's
# address (WEB_URI, known only now) as its SPA redirect URI, plus the local dev origins when ALLOW_LOCALHOST_CORS=true.
# Idempotent: it sets the whole list each time.
set -eu
[ "${AZURE_AUTH_ENABLED:-false}" = "true" ] || exit 0
graph=${AZURE_GRAPH_URL:-https://graph.microsoft.com}
spa_app=${AZURE_AUTH_SPA_CLIENT_ID:?AZURE_AUTH_SPA_CLIENT_ID is not set: the preprovision hook creates it}
web_uri=${WEB_URI:?WEB_URI is not set: provisioning did not output it}

uris="\"$web_uri\""
if [ "${ALLOW_LOCALHOST_CORS:-false}" = "true" ]; then
  uris="$uris,\"http://localhost:4280\",\"http://localhost:5173\""
fi
object_id=$(az ad app show --id "$spa_app" --query id -o tsv)
az rest --method PATCH --uri "$graph/v1.0/applications/$object_id" --headers "Content-Type=application/json" \
  --body "{\"spa\":{\"redirectUris\":[$uris]}}" >/dev/null
echo "postprovision: sign-in redirect URIs of $spa_app: $uris"
