using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Framework log categories that would carry user text, kept below the default level on both hosts.</summary>
public static class LogFilters
{
    /// <summary>Request-start lines carry the URL, and a GET's query holds the user's message.</summary>
    public const string RequestStart = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>A line per request that says nothing our stream logs don't.</summary>
    public const string Routing = "Microsoft.AspNetCore.Routing";

    public static ILoggingBuilder AddPrivacyFilters(this ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(logging);
        return logging
            .AddFilter(RequestStart, LogLevel.Warning)
            .AddFilter(Routing, LogLevel.Warning);
    }
}
