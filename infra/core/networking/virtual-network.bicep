metadata description = 'A virtual network with one subnet delegated to Flex Consumption (Function App VNet integration) and one for private endpoints.'

@description('Required. Name of the virtual network.')
param name string

@description('Optional. Location of the virtual network.')
param location string = resourceGroup().location

@description('Optional. Tags of the virtual network.')
param tags object = {}

@description('Optional. Address space of the virtual network.')
param addressPrefix string = '10.0.0.0/16'

@description('Optional. Address range of the subnet the Function App integrates with (Flex Consumption needs at least a /27 per app).')
param appSubnetPrefix string = '10.0.1.0/24'

@description('Optional. Address range of the subnet that holds the private endpoints.')
param privateEndpointSubnetPrefix string = '10.0.2.0/24'

resource vnet 'Microsoft.Network/virtualNetworks@2026-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          // Flex Consumption integrates through a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

@description('The name of the virtual network.')
output name string = vnet.name

@description('The resource ID of the virtual network.')
output resourceId string = vnet.id

@description('The resource ID of the subnet the Function App integrates with.')
output appSubnetResourceId string = vnet.properties.subnets[0].id

@description('The resource ID of the subnet for private endpoints.')
output privateEndpointSubnetResourceId string = vnet.properties.subnets[1].id
