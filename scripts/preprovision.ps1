# azd preprovision hook on Windows: the same two jobs as preprovision.sh (read it for the why).
$ErrorActionPreference = 'Stop'

function Invoke-OpenAIRestoreCheck {
  $name = $env:AZURE_OPENAI_ACCOUNT_NAME
  if (-not $name) { azd env set AZURE_OPENAI_RESTORE false; return }
  if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Warning "Azure CLI not found; not checking for a soft-deleted Azure OpenAI account '$name'."; return
  }
  $deleted = az cognitiveservices account list-deleted --query "[].{name:name, location:location, id:id}" -o json 2>$null
  if ($LASTEXITCODE -ne 0) { Write-Warning "Could not list soft-deleted accounts (az login?); not checking for '$name'."; return }
  $match = $deleted | ConvertFrom-Json | Where-Object { $_.name -ieq $name } | Select-Object -First 1
  if (-not $match) { azd env set AZURE_OPENAI_RESTORE false; return }
  $target = if ($env:AZURE_OPENAI_LOCATION) { $env:AZURE_OPENAI_LOCATION } else { $env:AZURE_LOCATION }
  if (($match.location -replace ' ', '') -ieq $target) {
    Write-Host "Restoring the soft-deleted Azure OpenAI account '$name' in $($match.location) (AZURE_OPENAI_RESTORE=true)."
    azd env set AZURE_OPENAI_RESTORE true; return
  }
  $group = if ($match.id -match '/resourceGroups/([^/]+)/') { $Matches[1] } else { '<resource group>' }
  Write-Error ("A soft-deleted Azure OpenAI account '$name' exists in $($match.location), but this environment deploys it to $target. " +
    "Purge it: az cognitiveservices account purge --name $name --resource-group $group --location $($match.location) " +
    "or set AZURE_OPENAI_LOCATION back to $($match.location) to restore it.")
  exit 1
}

Invoke-OpenAIRestoreCheck
if ($env:AZURE_AUTH_ENABLED -eq 'true') {
  & (Join-Path $PSScriptRoot 'auth-init.ps1')
  if ($LASTEXITCODE) { exit $LASTEXITCODE }
}
