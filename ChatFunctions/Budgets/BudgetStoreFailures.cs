using Azure;
using Azure.Identity;

namespace ChatFunctions.Budgets;

/// <summary>
/// Sorts a budget store failure into permanent (the configuration or the role assignment is wrong: retrying cannot
/// help, and the budget must not be skipped) and transient (the store is slow or briefly down), from the status and
/// error code the Azure SDK reports, never from message text.
/// </summary>
public static class BudgetStoreFailures
{
    private static readonly HashSet<string> PermanentCodes = new(StringComparer.OrdinalIgnoreCase)
    {
        "AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch", "AuthorizationResourceTypeMismatch",
        "InsufficientAccountPermissions", "AccountIsDisabled", "TableNotFound", "ResourceNotFound", "InvalidAuthenticationInfo",
    };

    public static BudgetStoreFailureKind Classify(Exception exception) => exception switch
    {
        RequestFailedException { Status: 401 or 403 or 404 } => BudgetStoreFailureKind.Permanent,
        RequestFailedException { ErrorCode: { } code } when PermanentCodes.Contains(code) => BudgetStoreFailureKind.Permanent,
        // No token for the storage audience (no managed identity, no login): a configuration fault.
        AuthenticationFailedException or CredentialUnavailableException => BudgetStoreFailureKind.Permanent,
        // A malformed key, caught at start when it comes from AzureWebJobsStorage; anything else shaped like it.
        FormatException or ArgumentException => BudgetStoreFailureKind.Permanent,
        _ => BudgetStoreFailureKind.Transient,
    };
}
