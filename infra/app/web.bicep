metadata description = 'The chat page: an Azure Static Web App azd deploys the built page to.'

@description('Required. Name of the Static Web App.')
param name string

@description('Optional. Location of the Static Web App.')
param location string = resourceGroup().location

@description('Optional. Tags of the Static Web App.')
param tags object = {}

@description('Required. azd service name this app is deployed as (azure.yaml services key).')
param serviceName string

@description('Optional. Pricing tier.')
@allowed([
  'Free'
  'Standard'
])
param skuName string = 'Free'

module staticWebApp '../core/host/staticwebapp.bicep' = {
  name: 'web-staticwebapp'
  params: {
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': serviceName })
    skuName: skuName
  }
}

@description('The name of the Static Web App.')
output name string = staticWebApp.outputs.name

@description('The resource ID of the Static Web App.')
output resourceId string = staticWebApp.outputs.resourceId

@description('The HTTPS origin of the page.')
output uri string = staticWebApp.outputs.uri
