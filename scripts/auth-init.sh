#!/bin/sh
# Creates (or finds again) the Microsoft Entra ID app registrations sign-in needs, and writes their ids into the azd
# environment: AZURE_AUTH_TENANT_ID, AZURE_AUTH_API_CLIENT_ID, AZURE_AUTH_SPA_CLIENT_ID. Idempotent: ids already in
# the environment are reused when the registrations still exist. Needs the Azure CLI signed in to the tenant with
# permission to create applications. Run by preprovision.sh when AZURE_AUTH_ENABLED=true.
#  - API  "chatfunctions-api-<env>": identifier URI api://<appId>, delegated scope "chat", v2 access tokens (the
#    app validates them: CHAT_AUTH_CLIENT_ID), the page pre-authorized so users see no consent prompt for it.
#  - page "chatfunctions-web-<env>": a single-page application (redirect URIs set by postprovision.sh once the
#    Static Web App's address is known) that requests the API's scope.
set -eu
graph=${AZURE_GRAPH_URL:-https://graph.microsoft.com}
env_name=${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set (run through azd)}

command -v az >/dev/null 2>&1 || { echo "auth-init: sign-in needs the Azure CLI (az) to create app registrations." >&2; exit 1; }

tenant=${AZURE_AUTH_TENANT_ID:-}
[ -n "$tenant" ] || tenant=$(az account show --query tenantId -o tsv)

new_guid() {
  if [ -r /proc/sys/kernel/random/uuid ]; then cat /proc/sys/kernel/random/uuid
  elif command -v uuidgen >/dev/null 2>&1; then uuidgen | tr 'A-Z' 'a-z'
  else python3 -c 'import uuid; print(uuid.uuid4())'
  fi
}

# Prints the appId of the registration whose id is in $1 (if it still exists) or of a new one named $2.
ensure_app() {
  if [ -n "$1" ] && az ad app show --id "$1" --query appId -o tsv >/dev/null 2>&1; then
    printf '%s\n' "$1"
  else
    az ad app create --display-name "$2" --sign-in-audience AzureADMyOrg --query appId -o tsv
  fi
}

ensure_service_principal() {
  az ad sp show --id "$1" --query id -o tsv >/dev/null 2>&1 || az ad sp create --id "$1" --query id -o tsv >/dev/null
}

patch_app() { # appId, JSON body
  object_id=$(az ad app show --id "$1" --query id -o tsv)
  az rest --method PATCH --uri "$graph/v1.0/applications/$object_id" --headers "Content-Type=application/json" --body "$2" >/dev/null
}

api_app=$(ensure_app "${AZURE_AUTH_API_CLIENT_ID:-}" "chatfunctions-api-$env_name")
scope_id=$(az ad app show --id "$api_app" --query "api.oauth2PermissionScopes[?value=='chat'].id | [0]" -o tsv)
if [ -z "$scope_id" ] || [ "$scope_id" = "None" ]; then
  scope_id=$(new_guid)
  patch_app "$api_app" "{\"identifierUris\":[\"api://$api_app\"],\"api\":{\"requestedAccessTokenVersion\":2,\"oauth2PermissionScopes\":[{\"id\":\"$scope_id\",\"value\":\"chat\",\"type\":\"User\",\"isEnabled\":true,\"adminConsentDisplayName\":\"Chat\",\"adminConsentDescription\":\"Send chat messages to ChatFunctions and read the replies.\",\"userConsentDisplayName\":\"Chat\",\"userConsentDescription\":\"Send chat messages and read the replies.\"}]}}"
fi
ensure_service_principal "$api_app"

spa_app=$(ensure_app "${AZURE_AUTH_SPA_CLIENT_ID:-}" "chatfunctions-web-$env_name")
patch_app "$spa_app" "{\"requiredResourceAccess\":[{\"resourceAppId\":\"$api_app\",\"resourceAccess\":[{\"id\":\"$scope_id\",\"type\":\"Scope\"}]}]}"
ensure_service_principal "$spa_app"
patch_app "$api_app" "{\"api\":{\"preAuthorizedApplications\":[{\"appId\":\"$spa_app\",\"delegatedPermissionIds\":[\"$scope_id\"]}]}}"

azd env set AZURE_AUTH_TENANT_ID "$tenant"
azd env set AZURE_AUTH_API_CLIENT_ID "$api_app"
azd env set AZURE_AUTH_SPA_CLIENT_ID "$spa_app"
echo "auth-init: sign-in registrations ready (API $api_app, page $spa_app, tenant $tenant)."
