metadata description = 'The chat API: a .NET isolated Function App on Flex Consumption, keyless to storage, Azure OpenAI and Application Insights.'

@description('Required. Name of the Function App.')
param name string

@description('Optional. Location of the Function App and its plan.')
param location string = resourceGroup().location

@description('Optional. Tags of the Function App and its plan.')
param tags object = {}

@description('Required. azd service name this app is deployed as (azure.yaml services key).')
param serviceName string

@description('Required. Name of the Flex Consumption plan.')
param appServicePlanName string

@description('Required. Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Required. Client ID of that identity (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId).')
param identityClientId string

@description('Required. Blob endpoint of that storage account.')
param storageBlobEndpoint string

@description('Required. Table endpoint of that storage account (token budgets).')
param storageTableEndpoint string

@description('Required. Name of the blob container Flex Consumption deploys packages from.')
param deploymentStorageContainerName string

@description('Required. Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Required. Azure OpenAI endpoint (AZURE_OPENAI_ENDPOINT).')
param openAiEndpoint string

@description('Required. Azure OpenAI chat deployment name (AZURE_OPENAI_CHAT_DEPLOYMENT).')
param openAiChatDeploymentName string

@description('Required. HTTPS origin of the chat page, the one origin CORS always allows.')
param webOrigin string

@description('Optional. Also allow the local dev origins (SWA CLI 4280, Vite 5173, Functions host 7071) to call the deployed API.')
param allowLocalhostOrigins bool = false

@description('Optional. Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Concurrent HTTP requests (open streams) one instance takes before scaling out.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

@description('Optional. Always-ready instances for the HTTP trigger group; 0 scales to zero.')
@minValue(0)
@maxValue(1000)
param httpAlwaysReadyInstanceCount int = 0

@description('Optional. System prompt (CHAT_SYSTEM_PROMPT); empty keeps the app default.')
param chatSystemPrompt string = ''

@description('Optional. Cap on output tokens per reply (CHAT_MAX_OUTPUT_TOKENS).')
@minValue(1)
@maxValue(128000)
param chatMaxOutputTokens int = 1024

@description('Optional. Chat requests one client address may start per minute on one instance (CHAT_RATE_LIMIT_PER_MINUTE); 0 turns the limit off.')
@minValue(0)
@maxValue(100000)
param chatRateLimitPerMinute int = 30

@description('Optional. Seconds a stream keeps generating after its client disconnected, for a reconnect to continue it (CHAT_RESUME_GRACE_SECONDS).')
@minValue(0)
@maxValue(600)
param chatResumeGraceSeconds int = 30

@description('Optional. Minutes a finished or abandoned stream can still be resumed (CHAT_RESUME_RETENTION_MINUTES); the blob lifecycle rule deletes its log after a day.')
@minValue(1)
@maxValue(1440)
param chatResumeRetentionMinutes int = 60

@description('Optional. Seconds a reader may accept nothing before the server drops it (CHAT_CLIENT_STALL_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(600)
param chatClientStallTimeoutSeconds int = 30

@description('Optional. Tokens one caller (signed-in user, else client address) may spend per UTC day (CHAT_TOKEN_BUDGET_PER_DAY); 0 turns budgets off.')
@minValue(0)
param chatTokenBudgetPerDay int = 100000

@description('Optional. Replies one caller may have open at once on one instance, a disconnected reply in its grace window included (CHAT_MAX_OPEN_REPLIES_PER_CALLER); 0 turns the limit off.')
@minValue(0)
@maxValue(10000)
param chatMaxOpenRepliesPerCaller int = 6

@description('Optional. Sampling temperature sent with every request (CHAT_TEMPERATURE); reasoning models accept only 1.')
param chatTemperature string = '1'

@description('Optional. Reasoning effort sent to Azure OpenAI with every request (CHAT_REASONING_EFFORT); empty sends none, so the model decides.')
@allowed([
  ''
  'none'
  'minimal'
  'low'
  'medium'
  'high'
  'xhigh'
])
param chatReasoningEffort string = 'low'

@description('Optional. The Azure OpenAI API the replies come from (CHAT_API): chatCompletions, or responses (the v1 Responses API, which also streams reasoning summaries).')
@allowed([
  'chatCompletions'
  'responses'
])
param chatApi string = 'chatCompletions'

@description('Optional. Worker trace sampler for the Azure Monitor exporter (OTEL_TRACES_SAMPLER): microsoft.rate_limited or microsoft.fixed_percentage.')
@allowed([
  'microsoft.rate_limited'
  'microsoft.fixed_percentage'
])
param tracesSampler string = 'microsoft.rate_limited'

@description('Optional. Argument of that sampler (OTEL_TRACES_SAMPLER_ARG): traces per second, or the ratio 0-1 kept.')
param tracesSamplerArg string = '5'

@description('Optional. Require a Microsoft Entra ID bearer token on every endpoint but /api/health and /api/health/ready (CHAT_AUTH_ENABLED).')
param authEnabled bool = false

@description('Optional. Tenant of the API app registration (CHAT_AUTH_TENANT_ID); used only when authEnabled.')
param authTenantId string = ''

@description('Optional. Application (client) ID of the API app registration, the accepted audience (CHAT_AUTH_CLIENT_ID); used only when authEnabled.')
param authClientId string = ''

@description('Optional. Resource ID of the subnet the app integrates with; empty means no VNet integration.')
param virtualNetworkSubnetId string = ''

var localhostOrigins = [
  'http://localhost:4280'
  'http://localhost:5173'
  'http://localhost:7071'
]

// Every setting the app reads in Azure. No keys: storage, Azure OpenAI and telemetry all use the identity.
var appSettings = {
  // Per service rather than __accountName: the host and the app's own stores (stream logs in blobs, budgets in a
  // table) read exactly these, as the Flex Consumption docs show.
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
  AZURE_CLIENT_ID: identityClientId
  AZURE_OPENAI_ENDPOINT: openAiEndpoint
  AZURE_OPENAI_CHAT_DEPLOYMENT: openAiChatDeploymentName
  CHAT_PROVIDER: 'AzureOpenAI'
  // A missing model setting must show as 503 and an unconfigured health check, never as demo replies.
  CHAT_DEMO_ENABLED: 'false'
  CHAT_MAX_OUTPUT_TOKENS: string(chatMaxOutputTokens)
  CHAT_RATE_LIMIT_PER_MINUTE: string(chatRateLimitPerMinute)
  CHAT_TEMPERATURE: chatTemperature
  CHAT_REASONING_EFFORT: chatReasoningEffort
  CHAT_API: chatApi
  CHAT_RESUME_GRACE_SECONDS: string(chatResumeGraceSeconds)
  CHAT_RESUME_RETENTION_MINUTES: string(chatResumeRetentionMinutes)
  CHAT_CLIENT_STALL_TIMEOUT_SECONDS: string(chatClientStallTimeoutSeconds)
  CHAT_TOKEN_BUDGET_PER_DAY: string(chatTokenBudgetPerDay)
  // A budget store that cannot be reached refuses chat (503) rather than letting spend go uncounted.
  CHAT_TOKEN_BUDGET_TRANSIENT_STORE_ERRORS: 'Refuse'
  CHAT_MAX_OPEN_REPLIES_PER_CALLER: string(chatMaxOpenRepliesPerCaller)
  // host.json's samplingSettings belong to the classic SDK; under telemetryMode OpenTelemetry the worker's exporter
  // samples by these (the host itself cannot sample its traces yet: azure-functions-host#11496).
  OTEL_TRACES_SAMPLER: tracesSampler
  OTEL_TRACES_SAMPLER_ARG: tracesSamplerArg
  // Read by the .NET runtime when the worker starts. Each HTTP/2 stream to Azure OpenAI rents a 16 KiB buffer from the
  // shared ArrayPool per burst of reply data; the default 32 per core is too few at many open streams, and the rest
  // became garbage: at 1,000 streams 85 % of all allocation (docs/benchmarks.md §10).
  DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION: '256'
}

var optionalAppSettings = empty(chatSystemPrompt) ? {} : { CHAT_SYSTEM_PROMPT: chatSystemPrompt }

// Sign-in settings exist only when sign-in is on, so an anonymous deployment carries no half-configured auth.
var authAppSettings = authEnabled
  ? {
      CHAT_AUTH_ENABLED: 'true'
      CHAT_AUTH_TENANT_ID: authTenantId
      CHAT_AUTH_CLIENT_ID: authClientId
    }
  : {}

module plan '../core/host/appserviceplan.bicep' = {
  name: 'api-plan'
  params: {
    name: appServicePlanName
    location: location
    tags: tags
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
  }
}

module functionApp '../core/host/functions-flexconsumption.bicep' = {
  name: 'api-functionapp'
  params: {
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': serviceName })
    appServicePlanId: plan.outputs.resourceId
    identityId: identityId
    deploymentStorageBlobEndpoint: storageBlobEndpoint
    deploymentStorageContainerName: deploymentStorageContainerName
    runtimeName: 'dotnet-isolated'
    runtimeVersion: '10.0'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    httpAlwaysReadyInstanceCount: httpAlwaysReadyInstanceCount
    appSettings: union(appSettings, optionalAppSettings, authAppSettings)
    allowedOrigins: allowLocalhostOrigins ? concat([webOrigin], localhostOrigins) : [webOrigin]
    virtualNetworkSubnetId: virtualNetworkSubnetId
  }
}

@description('The name of the Function App.')
output name string = functionApp.outputs.name

@description('The resource ID of the Function App.')
output resourceId string = functionApp.outputs.resourceId

@description('The HTTPS base address of the API.')
output uri string = functionApp.outputs.uri

@description('The origins CORS allows.')
output allowedOrigins string[] = allowLocalhostOrigins ? concat([webOrigin], localhostOrigins) : [webOrigin]
