metadata description = 'A Function App on a Flex Consumption plan, running as a user-assigned identity, deployed from a blob container it reads with that identity.'

@description('Required. Name of the Function App.')
param name string

@description('Optional. Location of the Function App.')
param location string = resourceGroup().location

@description('Optional. Tags of the Function App (azd finds the service by its azd-service-name tag).')
param tags object = {}

@description('Required. Resource ID of the Flex Consumption (FC1) plan.')
param appServicePlanId string

@description('Required. Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Required. Blob endpoint of the storage account that holds deployment packages, e.g. https://<account>.blob.core.windows.net/.')
param deploymentStorageBlobEndpoint string

@description('Required. Name of the blob container that holds deployment packages.')
param deploymentStorageContainerName string

@description('Optional. Worker runtime name.')
@allowed([
  'dotnet-isolated'
  'node'
  'python'
  'java'
  'powershell'
  'custom'
])
param runtimeName string = 'dotnet-isolated'

@description('Optional. Worker runtime version.')
param runtimeVersion string = '10.0'

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

@description('Optional. Concurrent HTTP requests one instance takes before the platform scales out.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

@description('Optional. Instances of the HTTP trigger group kept warm (billed while idle); 0 scales to zero.')
@minValue(0)
@maxValue(1000)
param httpAlwaysReadyInstanceCount int = 0

@description('Optional. App settings (every setting the app reads; Flex Consumption takes no FUNCTIONS_WORKER_RUNTIME or FUNCTIONS_EXTENSION_VERSION).')
param appSettings object = {}

@description('Optional. Origins allowed by CORS; never "*".')
param allowedOrigins string[] = []

@description('Optional. Resource ID of a subnet delegated to Microsoft.App/environments for VNet integration; empty keeps outbound traffic on the public network.')
param virtualNetworkSubnetId string = ''

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    // The page calls the API from the browser, so the app itself stays public; its dependencies may not be.
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    // No ftpsState (Flex Consumption has no FTP; basic publishing credentials are off below) and no http20Enabled
    // (a front-end setting Flex Consumption does not document; SSE needs nothing beyond HTTP/1.1).
    siteConfig: {
      minTlsVersion: '1.2'
      cors: {
        allowedOrigins: allowedOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${deploymentStorageBlobEndpoint}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: httpAlwaysReadyInstanceCount > 0
          ? [
              {
                name: 'http'
                instanceCount: httpAlwaysReadyInstanceCount
              }
            ]
          : []
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }

  resource basicPublishingCredentialsPoliciesFtp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource basicPublishingCredentialsPoliciesScm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }

  resource config 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

@description('The name of the Function App.')
output name string = functionApp.name

@description('The resource ID of the Function App.')
output resourceId string = functionApp.id

@description('The default host name, e.g. <name>.azurewebsites.net.')
output defaultHostName string = functionApp.properties.defaultHostName

@description('The HTTPS base address of the Function App.')
output uri string = 'https://${functionApp.properties.defaultHostName}'
