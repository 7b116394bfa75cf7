targetScope = 'subscription'

metadata description = 'ChatFunctions: a .NET isolated Function App on Flex Consumption that streams Azure OpenAI replies over SSE to a page on Azure Static Web Apps. Keyless throughout.'

// ---------------------------------------------------------------------------
// Environment (set by azd)
// ---------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Required. Name of the azd environment; with the subscription and location it seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Required. Primary location for all resources: only regions that offer Flex Consumption, so a provision cannot fail halfway on the plan.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional. Object ID of the user or service principal running azd, granted Cognitive Services OpenAI User so local runs work against the deployed model. Empty skips it.')
param principalId string = ''

@description('Optional. Type of principalId; empty detects it: a deployer without a user principal name is a service principal (CI), else a user.')
@allowed([
  ''
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = ''

// ---------------------------------------------------------------------------
// Name overrides: empty means abbreviation + unique token
// ---------------------------------------------------------------------------

@description('Optional. Name of the resource group.')
param resourceGroupName string = ''

@description('Optional. Name of the Function App.')
param apiServiceName string = ''

@description('Optional. Name of the Function App\'s user-assigned identity.')
param apiUserAssignedIdentityName string = ''

@description('Optional. Name of the Flex Consumption plan.')
param appServicePlanName string = ''

@description('Optional. Name of the storage account behind AzureWebJobsStorage and deployments.')
param storageAccountName string = ''

@description('Optional. Name of the Log Analytics workspace.')
param logAnalyticsName string = ''

@description('Optional. Name of the Application Insights component.')
param applicationInsightsName string = ''

@description('Optional. Name (and custom subdomain) of the Azure OpenAI account.')
param openAiAccountName string = ''

@description('Optional. Name of the Static Web App.')
param webServiceName string = ''

// ---------------------------------------------------------------------------
// Azure OpenAI
// ---------------------------------------------------------------------------

// azd offers only the regions of this list where the subscription has GlobalStandard quota left for the model
// (usageName: <quota name>,<capacity>). The literal must follow chatModelName / chatDeploymentCapacity's defaults.
@description('Required. Location of the Azure OpenAI account: regions that offer GlobalStandard deployments of the chat model.')
@allowed([
  'australiaeast'
  'brazilsouth'
  'canadaeast'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'norwayeast'
  'polandcentral'
  'southafricanorth'
  'southcentralus'
  'southindia'
  'spaincentral'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'uksouth'
  'westeurope'
  'westus'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
    usageName: [
      'OpenAI.GlobalStandard.gpt-5.4-mini,30'
    ]
  }
})
param openAiLocation string

@description('Optional. Restore the soft-deleted Azure OpenAI account of the same name (left by `azd down` without --purge) instead of creating it; the preprovision hook sets AZURE_OPENAI_RESTORE.')
param openAiRestore bool = false

@description('Optional. SKU of the Azure OpenAI account.')
param openAiSkuName string = 'S0'

@description('Optional. Name of the chat model deployment (AZURE_OPENAI_CHAT_DEPLOYMENT).')
param chatDeploymentName string = 'chat'

@description('Optional. Chat model name (see docs/deploy.md for choosing another model).')
param chatModelName string = 'gpt-5.4-mini'

@description('Optional. Chat model version.')
param chatModelVersion string = '2026-03-17'

@description('Optional. Deployment SKU of the chat model (GlobalStandard, DataZoneStandard, Standard, ...).')
param chatDeploymentSkuName string = 'GlobalStandard'

@description('Optional. Capacity of the chat deployment in thousands of tokens per minute.')
@minValue(1)
param chatDeploymentCapacity int = 30

// ---------------------------------------------------------------------------
// Function App (Flex Consumption)
// ---------------------------------------------------------------------------

@description('Optional. Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('Optional. Most instances the Function App scales out to.')
@minValue(1)
@maxValue(1000)
param functionMaximumInstanceCount int = 40

@description('Optional. Concurrent HTTP requests (open SSE streams) per instance before the platform adds one; streams mostly wait on the model, so more than the default 16.')
@minValue(1)
@maxValue(1000)
param functionHttpPerInstanceConcurrency int = 64

@description('Optional. Always-ready instances for HTTP triggers (no cold start, billed while idle); 0 scales to zero.')
@minValue(0)
@maxValue(1000)
param functionAlwaysReadyInstanceCount int = 0

@description('Optional. Let the local dev origins (http://localhost:4280, :5173, :7071) call the deployed API through CORS.')
param allowLocalhostCors bool = false

@description('Optional. System prompt for the deployed app (CHAT_SYSTEM_PROMPT); empty keeps the app\'s default.')
param chatSystemPrompt string = ''

@description('Optional. Cap on output tokens per reply (CHAT_MAX_OUTPUT_TOKENS).')
@minValue(1)
@maxValue(128000)
param chatMaxOutputTokens int = 1024

@description('Optional. Chat requests one client address may start per minute on one Function App instance (CHAT_RATE_LIMIT_PER_MINUTE); 0 turns the limit off.')
@minValue(0)
@maxValue(100000)
param chatRateLimitPerMinute int = 30

@description('Optional. Sampling temperature (CHAT_TEMPERATURE); 1 because reasoning models such as the default accept no other value.')
param chatTemperature string = '1'

@description('Optional. Reasoning effort sent with every request (CHAT_REASONING_EFFORT): low, the least that every GPT-5 model accepts, keeps the think before the first token short (docs/deploy.md). Empty sends none.')
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

@description('Optional. The Azure OpenAI API the replies come from (CHAT_API): chatCompletions (default), or responses, which also streams the model\'s reasoning summaries to the page (docs/deploy.md says when to choose it).')
@allowed([
  'chatCompletions'
  'responses'
])
param chatApi string = 'chatCompletions'

@description('Optional. Tokens one caller (signed-in user, else client address) may spend per UTC day (CHAT_TOKEN_BUDGET_PER_DAY); 0 turns budgets off.')
@minValue(0)
param chatTokenBudgetPerDay int = 100000

@description('Optional. Seconds a stream keeps generating after its client left, for a reconnect to continue it (CHAT_RESUME_GRACE_SECONDS).')
@minValue(0)
@maxValue(600)
param chatResumeGraceSeconds int = 30

@description('Optional. Minutes a stream stays resumable (CHAT_RESUME_RETENTION_MINUTES); a lifecycle rule deletes stream logs after a day.')
@minValue(1)
@maxValue(1440)
param chatResumeRetentionMinutes int = 60

@description('Optional. Seconds a reader may accept nothing before the server drops it (CHAT_CLIENT_STALL_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(600)
param chatClientStallTimeoutSeconds int = 30

@description('Optional. Trace sampler of the worker\'s Azure Monitor exporter (OTEL_TRACES_SAMPLER).')
@allowed([
  'microsoft.rate_limited'
  'microsoft.fixed_percentage'
])
param tracesSampler string = 'microsoft.rate_limited'

@description('Optional. Its argument (OTEL_TRACES_SAMPLER_ARG): traces per second for rate_limited, the ratio 0-1 kept for fixed_percentage.')
param tracesSamplerArg string = '5'

// ---------------------------------------------------------------------------
// Sign-in (Microsoft Entra ID) and network isolation: both off by default
// ---------------------------------------------------------------------------

@description('Optional. Require Microsoft Entra ID sign-in: the page signs in, the API accepts only bearer tokens for its app registration. The preprovision hook creates the registrations.')
param authEnabled bool = false

@description('Optional. Tenant of the app registrations; empty uses the deployment tenant.')
param authTenantId string = ''

@description('Optional. Application (client) ID of the API app registration (written by the preprovision hook).')
param authApiClientId string = ''

@description('Optional. Put the Function App in a virtual network and reach storage and Azure OpenAI only through private endpoints (their public access off).')
param vnetEnabled bool = false

@description('Optional. Name of the virtual network (when vnetEnabled).')
param vnetName string = ''

// ---------------------------------------------------------------------------
// Static Web App
// ---------------------------------------------------------------------------

@description('Optional. Pricing tier of the Static Web App.')
@allowed([
  'Free'
  'Standard'
])
param webSkuName string = 'Free'

@description('Optional. Location of the Static Web App; empty uses the primary location when Static Web Apps is offered there, else eastus2.')
param webLocation string = ''

// ---------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

var staticWebAppLocations = [
  'centralus'
  'eastasia'
  'eastus2'
  'westeurope'
  'westus2'
]
var fallbackStaticWebAppLocation = 'eastus2'
var effectiveWebLocation = !empty(webLocation)
  ? webLocation
  : (contains(staticWebAppLocations, location) ? location : fallbackStaticWebAppLocation)

// deployer() has no user principal name for a service principal, so CI works without AZURE_PRINCIPAL_TYPE.
var effectivePrincipalType = !empty(principalType)
  ? principalType
  : (empty(deployer().?userPrincipalName ?? '') ? 'ServicePrincipal' : 'User')

var chatStreamsContainerName = 'chat-streams'
var chatBudgetsTableName = 'chatbudgets'
// Signed-in users' conversations, one blob each under a hash of the user's tenant and object id; kept until deleted.
var chatConversationsContainerName = 'conversations'
// Shared links: a public snapshot per share and each owner's index of their shares; kept until the owner revokes them.
var chatSharesContainerName = 'shares'
var privateNetworkAccess = vnetEnabled ? 'Disabled' : 'Enabled'
var openAiAccountResourceName = !empty(openAiAccountName) ? openAiAccountName : '${abbrs.cognitiveServicesAccounts}${resourceToken}'

var functionAppName = !empty(apiServiceName) ? apiServiceName : '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The identity the Function App runs as: storage, Azure OpenAI and telemetry all trust it, no keys anywhere.
module apiIdentity 'core/security/user-assigned-identity.bicep' = {
  name: 'api-identity'
  scope: rg
  params: {
    name: !empty(apiUserAssignedIdentityName) ? apiUserAssignedIdentityName : '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    containers: [
      deploymentStorageContainerName
      chatStreamsContainerName
      chatConversationsContainerName
      chatSharesContainerName
    ]
    tables: [
      chatBudgetsTableName
    ]
    // Stream logs are resumable for CHAT_RESUME_RETENTION_MINUTES (the app answers 410 after); the platform deletes
    // them a day later, the smallest unit a lifecycle rule has.
    deleteBlobsAfterDays: [
      {
        prefix: '${chatStreamsContainerName}/'
        days: 1
      }
    ]
    publicNetworkAccess: privateNetworkAccess
    // An HTTP app uses no queues: no Queue Data Contributor. Blobs for the host, the deployment package, stream logs,
    // conversations and shared links; one table for token budgets, granted on that table only. The conversations and
    // shares containers need no grant of their own: the host's AzureWebJobsStorage already needs Blob Data Owner on the
    // account (it creates its own containers at run time), and a narrower role on one container adds nothing to that.
    roleAssignments: [
      {
        principalId: apiIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionId: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
        description: 'Functions host (AzureWebJobsStorage), Flex Consumption deployment package, chat-streams logs, conversations, shares'
      }
    ]
    tableRoleAssignments: [
      {
        tableName: chatBudgetsTableName
        assignment: {
          principalId: apiIdentity.outputs.principalId
          principalType: 'ServicePrincipal'
          roleDefinitionId: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
          description: 'Token budgets (chatbudgets table)'
        }
      }
    ]
  }
}

module logAnalytics 'core/monitor/loganalytics.bicep' = {
  name: 'log-analytics'
  scope: rg
  params: {
    name: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
  }
}

module applicationInsights 'core/monitor/applicationinsights.bicep' = {
  name: 'application-insights'
  scope: rg
  params: {
    name: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceResourceId: logAnalytics.outputs.resourceId
    roleAssignments: [
      {
        principalId: apiIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionId: '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher
        description: 'Keyless telemetry (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)'
      }
    ]
  }
}

module openAi 'core/ai/cognitiveservices.bicep' = {
  name: 'openai'
  scope: rg
  params: {
    name: openAiAccountResourceName
    location: openAiLocation
    tags: tags
    kind: 'OpenAI'
    skuName: openAiSkuName
    publicNetworkAccess: privateNetworkAccess
    restore: openAiRestore
    deployments: [
      {
        name: chatDeploymentName
        model: {
          format: 'OpenAI'
          name: chatModelName
          version: chatModelVersion
        }
        sku: {
          name: chatDeploymentSkuName
          capacity: chatDeploymentCapacity
        }
      }
    ]
    roleAssignments: concat(
      [
        {
          principalId: apiIdentity.outputs.principalId
          principalType: 'ServicePrincipal'
          roleDefinitionId: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User
          description: 'The chat API calls the model keylessly'
        }
      ],
      empty(principalId)
        ? []
        : [
            {
              principalId: principalId
              principalType: effectivePrincipalType
              roleDefinitionId: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User
              description: 'The developer who ran azd, for local runs against the deployed model'
            }
          ]
    )
  }
}

module web 'app/web.bicep' = {
  name: 'web'
  scope: rg
  params: {
    name: !empty(webServiceName) ? webServiceName : '${abbrs.webStaticSites}web-${resourceToken}'
    location: effectiveWebLocation
    tags: tags
    serviceName: 'web'
    skuName: webSkuName
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    serviceName: 'api'
    appServicePlanName: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
    identityId: apiIdentity.outputs.resourceId
    identityClientId: apiIdentity.outputs.clientId
    storageBlobEndpoint: storage.outputs.primaryBlobEndpoint
    storageTableEndpoint: storage.outputs.primaryTableEndpoint
    deploymentStorageContainerName: deploymentStorageContainerName
    applicationInsightsConnectionString: applicationInsights.outputs.connectionString
    openAiEndpoint: openAi.outputs.endpoint
    openAiChatDeploymentName: chatDeploymentName
    webOrigin: web.outputs.uri
    allowLocalhostOrigins: allowLocalhostCors
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    httpPerInstanceConcurrency: functionHttpPerInstanceConcurrency
    httpAlwaysReadyInstanceCount: functionAlwaysReadyInstanceCount
    chatSystemPrompt: chatSystemPrompt
    chatMaxOutputTokens: chatMaxOutputTokens
    chatRateLimitPerMinute: chatRateLimitPerMinute
    chatTemperature: chatTemperature
    chatReasoningEffort: chatReasoningEffort
    chatApi: chatApi
    chatTokenBudgetPerDay: chatTokenBudgetPerDay
    chatResumeGraceSeconds: chatResumeGraceSeconds
    chatResumeRetentionMinutes: chatResumeRetentionMinutes
    chatClientStallTimeoutSeconds: chatClientStallTimeoutSeconds
    tracesSampler: tracesSampler
    tracesSamplerArg: tracesSamplerArg
    authEnabled: authEnabled
    authTenantId: !empty(authTenantId) ? authTenantId : tenant().tenantId
    authClientId: authApiClientId
    virtualNetworkSubnetId: vnetEnabled ? vnet!.outputs.appSubnetResourceId : ''
  }
}

// ---------------------------------------------------------------------------
// Network isolation (vnetEnabled): the app's outbound traffic goes through the VNet, storage and Azure OpenAI
// are reachable only through private endpoints resolved by private DNS zones linked to it.
// ---------------------------------------------------------------------------

module vnet 'core/networking/virtual-network.bicep' = if (vnetEnabled) {
  name: 'vnet'
  scope: rg
  params: {
    name: !empty(vnetName) ? vnetName : '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
  }
}

var privateEndpoints = [
  {
    key: 'blob'
    service: 'storage'
    groupId: 'blob'
    privateDnsZoneName: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    key: 'table'
    service: 'storage'
    groupId: 'table'
    privateDnsZoneName: 'privatelink.table.${environment().suffixes.storage}'
  }
  {
    key: 'openai'
    service: 'openai'
    groupId: 'account'
    privateDnsZoneName: 'privatelink.openai.azure.com'
  }
]

@batchSize(1)
module privateEndpoint 'core/networking/private-endpoint.bicep' = [
  for pe in (vnetEnabled ? privateEndpoints : []): {
    name: 'private-endpoint-${pe.key}'
    scope: rg
    params: {
      name: '${abbrs.networkPrivateEndpoints}${pe.key}-${resourceToken}'
      location: location
      tags: tags
      subnetResourceId: vnet!.outputs.privateEndpointSubnetResourceId
      virtualNetworkResourceId: vnet!.outputs.resourceId
      serviceResourceId: pe.service == 'storage' ? storage.outputs.resourceId : openAi.outputs.resourceId
      groupId: pe.groupId
      privateDnsZoneName: pe.privateDnsZoneName
    }
  }
]

// ---------------------------------------------------------------------------
// Outputs: azd writes these into .azure/<env>/.env; local settings reuse the same names.
// ---------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name

output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_CHAT_DEPLOYMENT string = chatDeploymentName
output AZURE_OPENAI_CHAT_MODEL string = chatModelName
output AZURE_OPENAI_ACCOUNT_NAME string = openAi.outputs.name
output AZURE_OPENAI_CHAT_MODEL_VERSION string = chatModelVersion

// No APPLICATIONINSIGHTS_CONNECTION_STRING: the app gets it as a setting; .env files get copied around.
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_API_IDENTITY_CLIENT_ID string = apiIdentity.outputs.clientId

output API_BASE_URL string = api.outputs.uri
output API_ALLOWED_ORIGINS string[] = api.outputs.allowedOrigins
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri

output WEB_URI string = web.outputs.uri
output SERVICE_WEB_NAME string = web.outputs.name
output SERVICE_WEB_URI string = web.outputs.uri
