using System.Collections;

namespace ChatFunctions.Hosting;

/// <summary>
/// Tells whether the Functions host started this process. The host passes its gRPC address on the command line
/// (--functions-uri, or --host/--port from older hosts) and sets FUNCTIONS_WORKER_RUNTIME; `dotnet ChatFunctions.dll`
/// has neither, and then the same functions run on a plain ASP.NET Core host. CHAT_HOST_MODE overrides the guess.
/// </summary>
public static class HostMode
{
    public static bool IsFunctionsHost(IReadOnlyList<string> args, IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        switch ((environment["CHAT_HOST_MODE"] as string)?.Trim().ToUpperInvariant())
        {
            case "FUNCTIONS":
                return true;
            case "STANDALONE":
                return false;
        }

        foreach (var arg in args)
        {
            if (arg.StartsWith("--functions-uri", StringComparison.OrdinalIgnoreCase)
                || arg.StartsWith("--functions-worker-id", StringComparison.OrdinalIgnoreCase)
                || arg.Equals("--workerId", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return !string.IsNullOrEmpty(environment["FUNCTIONS_WORKER_RUNTIME"] as string);
    }
}
