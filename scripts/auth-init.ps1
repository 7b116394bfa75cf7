# Creates (or finds again) the sign-in app registrations; the same steps as auth-init.sh (read it for the why).
# A native command (az, azd) that exits non-zero stops the script (PowerShell 7.4+); the two look-ups whose failure
# means "not there yet" turn that off for themselves and check $LASTEXITCODE.
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
$graph = if ($env:AZURE_GRAPH_URL) { $env:AZURE_GRAPH_URL } else { 'https://graph.microsoft.com' }
$envName = $env:AZURE_ENV_NAME
if (-not $envName) { throw 'AZURE_ENV_NAME is not set (run through azd).' }
if (-not (Get-Command az -ErrorAction SilentlyContinue)) { throw 'Sign-in needs the Azure CLI (az) to create app registrations.' }

$tenant = if ($env:AZURE_AUTH_TENANT_ID) { $env:AZURE_AUTH_TENANT_ID } else { az account show --query tenantId -o tsv }

function Get-OrCreateApp([string] $existing, [string] $displayName) {
  if ($existing) {
    $PSNativeCommandUseErrorActionPreference = $false
    az ad app show --id $existing --query appId -o tsv 2>$null | Out-Null
    $PSNativeCommandUseErrorActionPreference = $true
    if ($LASTEXITCODE -eq 0) { return $existing }
  }
  return (az ad app create --display-name $displayName --sign-in-audience AzureADMyOrg --query appId -o tsv)
}

function Set-AppProperties([string] $appId, [hashtable] $body) {
  $objectId = az ad app show --id $appId --query id -o tsv
  $file = New-TemporaryFile
  try {
    $body | ConvertTo-Json -Depth 10 -Compress | Set-Content -Path $file -Encoding utf8
    az rest --method PATCH --uri "$graph/v1.0/applications/$objectId" --headers 'Content-Type=application/json' --body "@$file" | Out-Null
  } finally { Remove-Item $file }
}

function Confirm-ServicePrincipal([string] $appId) {
  $PSNativeCommandUseErrorActionPreference = $false
  az ad sp show --id $appId --query id -o tsv 2>$null | Out-Null
  $PSNativeCommandUseErrorActionPreference = $true
  if ($LASTEXITCODE -ne 0) { az ad sp create --id $appId --query id -o tsv | Out-Null }
}

$apiApp = Get-OrCreateApp $env:AZURE_AUTH_API_CLIENT_ID "chatfunctions-api-$envName"
$scopeId = az ad app show --id $apiApp --query "api.oauth2PermissionScopes[?value=='chat'].id | [0]" -o tsv
if (-not $scopeId -or $scopeId -eq 'None') {
  $scopeId = [guid]::NewGuid().ToString()
  Set-AppProperties $apiApp @{
    identifierUris = @("api://$apiApp")
    api = @{
      requestedAccessTokenVersion = 2
      oauth2PermissionScopes = @(@{
        id = $scopeId; value = 'chat'; type = 'User'; isEnabled = $true
        adminConsentDisplayName = 'Chat'; adminConsentDescription = 'Send chat messages to ChatFunctions and read the replies.'
        userConsentDisplayName = 'Chat'; userConsentDescription = 'Send chat messages and read the replies.'
      })
    }
  }
}
Confirm-ServicePrincipal $apiApp

$spaApp = Get-OrCreateApp $env:AZURE_AUTH_SPA_CLIENT_ID "chatfunctions-web-$envName"
Set-AppProperties $spaApp @{ requiredResourceAccess = @(@{ resourceAppId = $apiApp; resourceAccess = @(@{ id = $scopeId; type = 'Scope' }) }) }
Confirm-ServicePrincipal $spaApp
Set-AppProperties $apiApp @{ api = @{ preAuthorizedApplications = @(@{ appId = $spaApp; delegatedPermissionIds = @($scopeId) }) } }

azd env set AZURE_AUTH_TENANT_ID $tenant
azd env set AZURE_AUTH_API_CLIENT_ID $apiApp
azd env set AZURE_AUTH_SPA_CLIENT_ID $spaApp
Write-Host "Sign-in registrations ready (API $apiApp, page $spaApp, tenant $tenant)."
