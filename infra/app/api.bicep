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

@description('Required. Name of the storage account behind AzureWebJobsStorage.')
param storageAccountName string

@description('Required. Blob endpoint of that storage account.')
param storageBlobEndpoint string

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

var localhostOrigins = [
  'http://localhost:4280'
  'http://localhost:5173'
  'http://localhost:7071'
]

// Every setting the app reads in Azure. No keys: storage, Azure OpenAI and telemetry all use the identity.
var appSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
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
}

var optionalAppSettings = empty(chatSystemPrompt) ? {} : { CHAT_SYSTEM_PROMPT: chatSystemPrompt }

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
    appSettings: union(appSettings, optionalAppSettings)
    allowedOrigins: allowLocalhostOrigins ? concat([webOrigin], localhostOrigins) : [webOrigin]
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
