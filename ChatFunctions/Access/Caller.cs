namespace ChatFunctions.Access;

/// <summary>
/// Who a budget is kept for: a signed-in user (<c>user:&lt;tenant&gt;/&lt;oid&gt;</c>) or, without sign-in, a client
/// address (<c>address:&lt;ip&gt;</c>). Raw: never stored or logged as is (stores hash it, see BudgetDay). Lower case
/// throughout: tenant and object ids are GUIDs and addresses are hex, both case-insensitive, so one caller has one key
/// (one budget, one set of open replies, one owner of their streams) however a token or a proxy spells them.
/// </summary>
public readonly record struct CallerKey
{
    private CallerKey(string value) => Value = value;

    public string Value { get; }

    public static CallerKey ForUser(string tenantId, string objectId) => new($"user:{tenantId}/{objectId}".ToLowerInvariant());

    public static CallerKey ForAddress(string address) => new($"address:{address}".ToLowerInvariant());

    public override string ToString() => Value;
}

/// <summary>The caller of one request: signed in (with the token's object and tenant ids) or anonymous.</summary>
public sealed record Caller(CallerKey Key, string? ObjectId, string? TenantId)
{
    public bool IsSignedIn => ObjectId is not null;

    public static Caller Anonymous(string address) => new(CallerKey.ForAddress(address), null, null);

    public static Caller User(string tenantId, string objectId) => new(CallerKey.ForUser(tenantId, objectId), objectId, tenantId);
}
