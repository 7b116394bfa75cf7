using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ChatFunctions.Access;

namespace ChatFunctions.Budgets;

/// <summary>The day a spend belongs to and the key it is stored under, shared by both stores.</summary>
public static class BudgetDay
{
    /// <summary>The UTC day, <c>yyyy-MM-dd</c>: the table's partition.</summary>
    public static string Of(DateTimeOffset now) => now.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>The next UTC midnight.</summary>
    public static DateTimeOffset NextReset(DateTimeOffset now) => new(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);

    /// <summary>
    /// SHA-256 of the caller key salted with the day, hex: no address or user id is stored in clear, and the same
    /// caller gets a different row each day, so rows cannot be joined across days. (A hash of an IPv4 address can
    /// still be guessed by trying all 2^32 by whoever can read the table; the table holds counts only.)
    /// </summary>
    public static string RowKey(string day, CallerKey caller) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"chatfunctions-budget-v1\n{day}\n{caller.Value}")));

    /// <summary>Whether <paramref name="tokens"/> more fit: the day's total after a reservation never exceeds the limit.</summary>
    public static bool Fits(long spent, long tokens, long limit) => spent <= limit - tokens;
}
