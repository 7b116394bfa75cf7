metadata description = 'An App Service plan; FC1 (Flex Consumption) by default.'

@description('Required. Name of the plan.')
param name string

@description('Optional. Location of the plan.')
param location string = resourceGroup().location

@description('Optional. Tags of the plan.')
param tags object = {}

@description('Optional. SKU of the plan.')
param sku object = {
  name: 'FC1'
  tier: 'FlexConsumption'
}

@description('Optional. Linux plan (required for Flex Consumption).')
param reserved bool = true

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: name
  location: location
  tags: tags
  sku: sku
  kind: reserved ? 'linux' : ''
  properties: {
    reserved: reserved
  }
}

@description('The name of the plan.')
output name string = plan.name

@description('The resource ID of the plan.')
output resourceId string = plan.id
