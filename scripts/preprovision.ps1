# azd preprovision hook on Windows: the same two jobs as preprovision.sh (read it for the why).
# 'Stop' covers cmdlets only; the second line makes a native command (az, azd) that exits non-zero stop the script
# too (PowerShell 7.4+). Where a failure is expected, a function turns it off for itself and checks $LASTEXITCODE.
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true

# A region's programmatic name: "Sweden Central" and "swedencentral" are the same region.
function Get-RegionName([string] $region) { return ($region -replace ' ', '').ToLowerInvariant() }

# Where this environment deploys Azure OpenAI: AZURE_OPENAI_LOCATION, or the value azd prompted for and keeps in the
# environment's config (infra.parameters.openAiLocation), or the deployment's own region.
function Get-OpenAILocation {
  if ($env:AZURE_OPENAI_LOCATION) { return $env:AZURE_OPENAI_LOCATION }
  $PSNativeCommandUseErrorActionPreference = $false
  $prompted = azd env config get infra.parameters.openAiLocation 2>$null
  if ($LASTEXITCODE -eq 0 -and $prompted) { return (($prompted | Out-String).Trim() -replace '"', '') }
  return $env:AZURE_LOCATION
}

function Invoke-OpenAIRestoreCheck {
  $name = $env:AZURE_OPENAI_ACCOUNT_NAME
  if (-not $name) { azd env set AZURE_OPENAI_RESTORE false; return }
  if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Warning "Azure CLI not found; not checking for a soft-deleted Azure OpenAI account '$name'."; return
  }
  $deleted = & {
    # A failure here only means "cannot check": warn and let provisioning go on.
    $PSNativeCommandUseErrorActionPreference = $false
    az cognitiveservices account list-deleted --query "[].{name:name, location:location, id:id}" -o json 2>$null
  }
  if ($LASTEXITCODE -ne 0) { Write-Warning "Could not list soft-deleted accounts (az login?); not checking for '$name'."; return }
  $match = $deleted | ConvertFrom-Json | Where-Object { $_.name -ieq $name } | Select-Object -First 1
  if (-not $match) { azd env set AZURE_OPENAI_RESTORE false; return }
  $target = Get-OpenAILocation
  if ((Get-RegionName $match.location) -eq (Get-RegionName $target)) {
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
}
