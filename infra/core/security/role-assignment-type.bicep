metadata description = 'The shape of a role assignment that resource modules accept, as in Azure Verified Modules.'

@export()
@description('A role to assign on the resource a module creates.')
type roleAssignmentType = {
  @description('Required. The object ID of the principal (user, group or service principal) that gets the role.')
  principalId: string

  @description('Required. The type of the principal; explicit so the assignment does not wait for directory replication.')
  principalType: 'User' | 'Group' | 'ServicePrincipal'

  @description('Required. The GUID of the built-in role definition.')
  roleDefinitionId: string

  @description('Optional. What the assignment is for.')
  description: string?
}
