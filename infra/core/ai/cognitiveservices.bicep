metadata description = 'An Azure OpenAI account (keyless: local auth disabled) with model deployments and role assignments.'

import { roleAssignmentType } from '../security/role-assignment-type.bicep'

@description('A model deployment on the account.')
type deploymentType = {
  @description('Required. Name of the deployment, the value apps send as the model.')
  name: string

  @description('Required. The model.')
  model: {
    @description('Required. Model format, e.g. OpenAI.')
    format: string

    @description('Required. Model name, e.g. gpt-4o-mini.')
    name: string

    @description('Required. Model version, e.g. 2024-07-18.')
    version: string
  }

  @description('Required. Deployment SKU and capacity (thousands of tokens per minute).')
  sku: {
    @description('Required. SKU name, e.g. GlobalStandard or Standard.')
    name: string

    @description('Required. Capacity in thousands of tokens per minute.')
    capacity: int
  }
}

@description('Required. Name of the account.')
param name string

@description('Optional. Location of the account.')
param location string = resourceGroup().location

@description('Optional. Tags of the account.')
param tags object = {}

@description('Optional. Kind of the account.')
param kind string = 'OpenAI'

@description('Optional. SKU of the account.')
param skuName string = 'S0'

@description('Optional. Custom subdomain (needed for Entra ID auth); defaults to the account name.')
param customSubDomainName string = name

@description('Optional. Whether the public endpoint is reachable.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Optional. Restore a soft-deleted account of this name instead of creating one (the preprovision hook sets it when it finds one).')
param restore bool = false

@description('Optional. Model deployments to create, one after another.')
param deployments deploymentType[] = []

@description('Optional. Roles to assign on the account.')
param roleAssignments roleAssignmentType[] = []

resource account 'Microsoft.CognitiveServices/accounts@2026-07-01' = {
  name: name
  location: location
  tags: tags
  kind: kind
  sku: {
    name: skuName
  }
  properties: {
    customSubDomainName: customSubDomainName
    disableLocalAuth: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
    restore: restore
  }
}

@batchSize(1)
resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2026-07-01' = [
  for d in deployments: {
    parent: account
    name: d.name
    sku: {
      name: d.sku.name
      capacity: d.sku.capacity
    }
    properties: {
      model: {
        format: d.model.format
        name: d.model.name
        version: d.model.version
      }
      versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
    }
  }
]

resource roleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for ra in roleAssignments: {
    name: guid(account.id, ra.principalId, ra.roleDefinitionId)
    scope: account
    properties: {
      principalId: ra.principalId
      principalType: ra.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
      description: ra.?description ?? ''
    }
  }
]

@description('The name of the account.')
output name string = account.name

@description('The resource ID of the account.')
output resourceId string = account.id

@description('The endpoint, e.g. https://<subdomain>.openai.azure.com/.')
output endpoint string = account.properties.endpoint
