# azd postprovision hook on Windows: the same as postprovision.sh (read it for the why).
# A native command (az) that exits non-zero stops the script, as cmdlet errors do (PowerShell 7.4+).
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
if ($env:AZURE_AUTH_ENABLED -ne 'true') { exit 0 }
$graph = if ($env:AZURE_GRAPH_URL) { $env:AZURE_GRAPH_URL } else { 'https://graph.microsoft.com' }
if (-not $env:AZURE_AUTH_SPA_CLIENT_ID) { throw 'AZURE_AUTH_SPA_CLIENT_ID is not set: the preprovision hook creates it.' }
if (-not $env:WEB_URI) { throw 'WEB_URI is not set: provisioning did not output it.' }
$uris = @($env:WEB_URI)
if ($env:ALLOW_LOCALHOST_CORS -eq 'true') { $uris += 'http://localhost:4280', 'http://localhost:5173' }
$objectId = az ad app show --id $env:AZURE_AUTH_SPA_CLIENT_ID --query id -o tsv
$file = New-TemporaryFile
try {
  @{ spa = @{ redirectUris = $uris } } | ConvertTo-Json -Depth 5 -Compress | Set-Content -Path $file -Encoding utf8
  az rest --method PATCH --uri "$graph/v1.0/applications/$objectId" --headers 'Content-Type=application/json' --body "@$file" | Out-Null
} finally { Remove-Item $file }
Write-Host "Sign-in redirect URIs of $($env:AZURE_AUTH_SPA_CLIENT_ID): $($uris -join ', ')"
