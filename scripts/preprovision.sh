#!/bin/sh
# azd preprovision hook (azure.yaml). Runs with the azd environment's values in its environment and writes back with
# `azd env set`, which azd reloads before it provisions. Two jobs, both idempotent:
#  1. A soft-deleted Azure OpenAI account of our name (left by `azd down` without --purge) makes the next provision
#     fail. Found in the deployment's region: AZURE_OPENAI_RESTORE=true, so Bicep restores it. Found elsewhere: stop
#     and say how to purge it. Not found: AZURE_OPENAI_RESTORE=false.
#  2. With AZURE_AUTH_ENABLED=true: the two Microsoft Entra ID app registrations sign-in needs (scripts/auth-init.sh).
set -eu
here=$(dirname "$0")

# A region's programmatic name: "Sweden Central" and "swedencentral" are the same region.
region_name() {
  printf '%s' "$1" | tr -d ' ' | tr '[:upper:]' '[:lower:]'
}

# Where this environment deploys Azure OpenAI. azd hands hooks the values of the environment's .env; a value it
# prompted for (the openAiLocation parameter when AZURE_OPENAI_LOCATION was never set) it keeps in the environment's
# config instead, as infra.parameters.openAiLocation. Neither: the deployment's own region.
openai_location() {
  if [ -n "${AZURE_OPENAI_LOCATION:-}" ]; then
    printf '%s' "$AZURE_OPENAI_LOCATION"
  elif prompted=$(azd env config get infra.parameters.openAiLocation 2>/dev/null) && [ -n "$prompted" ]; then
    # Printed as JSON: a quoted string.
    printf '%s' "$prompted" | tr -d '"'
  else
    printf '%s' "${AZURE_LOCATION:-}"
  fi
}

openai_restore() {
  name=${AZURE_OPENAI_ACCOUNT_NAME:-}
  if [ -z "$name" ]; then
    # Never provisioned in this environment: nothing of ours can be soft-deleted.
    azd env set AZURE_OPENAI_RESTORE false
    return 0
  fi
  if ! command -v az >/dev/null 2>&1; then
    echo "preprovision: Azure CLI not found; not checking for a soft-deleted Azure OpenAI account '$name'." >&2
    return 0
  fi
  if ! deleted=$(az cognitiveservices account list-deleted --query "[].[name, location, id]" -o tsv 2>/dev/null); then
    echo "preprovision: could not list soft-deleted Cognitive Services accounts (az login?); not checking for '$name'." >&2
    return 0
  fi
  match=$(printf '%s\n' "$deleted" | awk -F '\t' -v n="$name" 'tolower($1) == tolower(n) { print; exit }')
  if [ -z "$match" ]; then
    azd env set AZURE_OPENAI_RESTORE false
    return 0
  fi
  location=$(printf '%s' "$match" | cut -f2)
  id=$(printf '%s' "$match" | cut -f3)
  target=$(openai_location)
  if [ "$(region_name "$location")" = "$(region_name "$target")" ]; then
    echo "preprovision: restoring the soft-deleted Azure OpenAI account '$name' in $location (AZURE_OPENAI_RESTORE=true)."
    azd env set AZURE_OPENAI_RESTORE true
    return 0
  fi
  group=$(printf '%s' "$id" | sed -n 's#.*/resourceGroups/\([^/]*\)/.*#\1#p')
  echo "preprovision: a soft-deleted Azure OpenAI account '$name' exists in $location, but this environment deploys it to $target." >&2
  echo "  Purge it (its deployments are gone for good), then run azd up again:" >&2
  echo "    az cognitiveservices account purge --name $name --resource-group $group --location $location" >&2
  echo "  or set AZURE_OPENAI_LOCATION back to $location to restore it." >&2
  exit 1
}

openai_restore
if [ "${AZURE_AUTH_ENABLED:-false}" = "true" ]; then
  sh "$here/auth-init.sh"
fi
