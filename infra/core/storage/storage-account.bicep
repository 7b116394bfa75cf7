metadata description = 'A StorageV2 account without shared keys or public blob access, with optional blob containers, tables, blob lifecycle rules, role assignments and network lock-down.'

import { roleAssignmentType } from '../security/role-assignment-type.bicep'

@description('A role assigned on one table of the account rather than on the whole account.')
type tableRoleAssignmentType = {
  @description('Required. Name of the table (one of the tables parameter).')
  tableName: string

  @description('Required. The role assignment.')
  assignment: roleAssignmentType
}

@description('Required. Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Location of the storage account.')
param location string = resourceGroup().location

@description('Optional. Tags of the storage account.')
param tags object = {}

@description('Optional. The SKU of the storage account.')
param skuName string = 'Standard_LRS'

@description('Optional. Names of blob containers to create (private).')
param containers string[] = []

@description('Optional. Names of tables to create.')
param tables string[] = []

@description('Optional. Blob prefixes ("<container>/<prefix>") whose blobs are deleted this many days after their last modification.')
param deleteBlobsAfterDays { prefix: string, days: int }[] = []

@description('Optional. Roles to assign on the storage account.')
param roleAssignments roleAssignmentType[] = []

@description('Optional. Roles to assign on single tables.')
param tableRoleAssignments tableRoleAssignmentType[] = []

@description('Optional. Whether the public endpoint is reachable; Disabled leaves private endpoints as the only way in.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      bypass: publicNetworkAccess == 'Enabled' ? 'AzureServices' : 'None'
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource container 'containers' = [
      for containerName in containers: {
        name: containerName
        properties: {
          publicAccess: 'None'
        }
      }
    ]
  }

  resource tableServices 'tableServices' = {
    name: 'default'

    resource table 'tables' = [
      for tableName in tables: {
        name: tableName
      }
    ]
  }

  // Lifecycle rules are evaluated about once a day by the platform: the smallest retention they express is 1 day.
  resource managementPolicies 'managementPolicies' = if (!empty(deleteBlobsAfterDays)) {
    name: 'default'
    properties: {
      policy: {
        rules: [
          for rule in deleteBlobsAfterDays: {
            name: 'delete-${replace(replace(rule.prefix, '/', '-'), '_', '-')}'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: {
                blobTypes: [
                  'blockBlob'
                  'appendBlob'
                ]
                prefixMatch: [
                  rule.prefix
                ]
              }
              actions: {
                baseBlob: {
                  delete: {
                    daysAfterModificationGreaterThan: rule.days
                  }
                }
              }
            }
          }
        ]
      }
    }
  }
}

resource roleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for ra in roleAssignments: {
    name: guid(storage.id, ra.principalId, ra.roleDefinitionId)
    scope: storage
    properties: {
      principalId: ra.principalId
      principalType: ra.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
      description: ra.?description ?? ''
    }
  }
]

resource existingTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-06-01' existing = [
  for ra in tableRoleAssignments: {
    parent: storage::tableServices
    name: ra.tableName
  }
]

resource tableRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (ra, i) in tableRoleAssignments: {
    name: guid(existingTable[i].id, ra.assignment.principalId, ra.assignment.roleDefinitionId)
    scope: existingTable[i]
    properties: {
      principalId: ra.assignment.principalId
      principalType: ra.assignment.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.assignment.roleDefinitionId)
      description: ra.assignment.?description ?? ''
    }
    dependsOn: [
      storage::tableServices::table
    ]
  }
]

@description('The name of the storage account.')
output name string = storage.name

@description('The resource ID of the storage account.')
output resourceId string = storage.id

@description('The blob endpoint, e.g. https://<name>.blob.core.windows.net/.')
output primaryBlobEndpoint string = storage.properties.primaryEndpoints.blob

@description('The table endpoint, e.g. https://<name>.table.core.windows.net/.')
output primaryTableEndpoint string = storage.properties.primaryEndpoints.table
