metadata description = 'A private endpoint for one sub-resource of a service, with the private DNS zone that resolves its name to the private address inside the virtual network.'

@description('Required. Name of the private endpoint.')
param name string

@description('Optional. Location of the private endpoint.')
param location string = resourceGroup().location

@description('Optional. Tags of the private endpoint and the DNS zone.')
param tags object = {}

@description('Required. Resource ID of the subnet the private endpoint sits in.')
param subnetResourceId string

@description('Required. Resource ID of the virtual network that resolves names through the DNS zone.')
param virtualNetworkResourceId string

@description('Required. Resource ID of the service the endpoint connects to.')
param serviceResourceId string

@description('Required. Sub-resource (group ID) of the service, e.g. blob, table or account.')
param groupId string

@description('Required. Name of the private DNS zone for that sub-resource, e.g. privatelink.blob.core.windows.net.')
param privateDnsZoneName string

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: privateDnsZoneName
  location: 'global'
  tags: tags

  resource link 'virtualNetworkLinks' = {
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: virtualNetworkResourceId
      }
    }
  }
}

resource privateEndpoint 'Microsoft.Network/privateEndpoints@2026-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetResourceId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: serviceResourceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }

  resource dnsZoneGroup 'privateDnsZoneGroups' = {
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(privateDnsZoneName, '.', '-')
          properties: {
            privateDnsZoneId: dnsZone.id
          }
        }
      ]
    }
  }
}

@description('The name of the private endpoint.')
output name string = privateEndpoint.name

@description('The resource ID of the private endpoint.')
output resourceId string = privateEndpoint.id
