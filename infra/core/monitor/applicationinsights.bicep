metadata description = 'A workspace-based Application Insights component that accepts only Entra ID (keyless) telemetry.'

import { roleAssignmentType } from '../security/role-assignment-type.bicep'

@description('Required. Name of the component.')
param name string

@description('Optional. Location of the component.')
param location string = resourceGroup().location

@description('Optional. Tags of the component.')
param tags object = {}

@description('Required. Resource ID of the Log Analytics workspace that stores the data.')
param logAnalyticsWorkspaceResourceId string

@description('Optional. Roles to assign on the component (Monitoring Metrics Publisher for identities that send telemetry).')
param roleAssignments roleAssignmentType[] = []

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: name
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalyticsWorkspaceResourceId
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource roleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for ra in roleAssignments: {
    name: guid(appInsights.id, ra.principalId, ra.roleDefinitionId)
    scope: appInsights
    properties: {
      principalId: ra.principalId
      principalType: ra.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
      description: ra.?description ?? ''
    }
  }
]

@description('The name of the component.')
output name string = appInsights.name

@description('The resource ID of the component.')
output resourceId string = appInsights.id

@description('The connection string (an ingestion address, not a secret: with local auth disabled it only works with an Entra ID token).')
output connectionString string = appInsights.properties.ConnectionString
