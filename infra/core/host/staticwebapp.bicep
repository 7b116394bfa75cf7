metadata description = 'An Azure Static Web App that serves a prebuilt page (deployed by azd, no linked repository).'

@description('Required. Name of the Static Web App.')
param name string

@description('Optional. Location of the Static Web App (only some regions host the control plane; content is served globally).')
param location string = resourceGroup().location

@description('Optional. Tags of the Static Web App (azd finds the service by its azd-service-name tag).')
param tags object = {}

@description('Optional. Pricing tier.')
@allowed([
  'Free'
  'Standard'
])
param skuName string = 'Free'

resource staticWebApp 'Microsoft.Web/staticSites@2025-03-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuName
  }
  properties: {
    provider: 'Custom'
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Enabled'
  }
}

@description('The name of the Static Web App.')
output name string = staticWebApp.name

@description('The resource ID of the Static Web App.')
output resourceId string = staticWebApp.id

@description('The default host name, e.g. <words>.azurestaticapps.net.')
output defaultHostname string = staticWebApp.properties.defaultHostname

@description('The HTTPS address of the page.')
output uri string = 'https://${staticWebApp.properties.defaultHostname}'
