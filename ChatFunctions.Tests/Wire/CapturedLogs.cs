using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Tests.Wire;

/// <summary>One log entry as the app wrote it: formatted message, structured state, scopes and exception.</summary>
public sealed record CapturedLogEntry(
    string Category,
    LogLevel Level,
    EventId EventId,
    string Message,
    IReadOnlyList<KeyValuePair<string, object?>> State,
    IReadOnlyList<object?> Scopes,
    Exception? Exception)
{
    /// <summary>Every piece of text this entry could carry to a log sink.</summary>
    public IEnumerable<string> AllText()
    {
        yield return Message;
        foreach (var (key, value) in State)
        {
            yield return key;
            yield return Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
        }

        foreach (var scope in Scopes)
        {
            if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    yield return key;
                    yield return Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
                }
            }

            yield return Convert.ToString(scope, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
        }

        if (Exception is not null)
        {
            yield return Exception.ToString();
        }
    }

    public override string ToString() => $"{Level} {Category}[{EventId.Id}:{EventId.Name}] {Message}";
}

/// <summary>
/// An ILoggerProvider that keeps every entry, at every level, registered into the app through AppServer's
/// configureServices hook. A provider-specific rule lets it see Trace and Debug whatever the app's filters say.
/// </summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<CapturedLogEntry> _entries = new();
    private IExternalScopeProvider? _scopes;

    public IReadOnlyCollection<CapturedLogEntry> Entries => _entries;

    /// <summary>Adds this provider to the app's services, at Trace for every category.</summary>
    public void Register(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton<ILoggerProvider>(this);
        services.Configure<LoggerFilterOptions>(o =>
            o.Rules.Add(new LoggerFilterRule(typeof(CapturedLogs).FullName, categoryName: null, LogLevel.Trace, filter: null)));
    }

    /// <summary>Waits until an entry matches (the app logs a stream's end just after the client saw it end).</summary>
    public async Task<CapturedLogEntry> WaitForAsync(Func<CapturedLogEntry, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var found = _entries.FirstOrDefault(match);
            if (found is not null)
            {
                return found;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("No matching log entry. Logged:\n" + string.Join('\n', _entries));
            }

            await Task.Delay(TestInfrastructure.Poll.StateInterval);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? pairs.ToList()
                : [new KeyValuePair<string, object?>("State", state)];
            var scopes = new List<object?>();
            owner._scopes?.ForEachScope(static (scope, list) => list.Add(scope), scopes);
            owner._entries.Enqueue(new CapturedLogEntry(category, logLevel, eventId, formatter(state, exception), values, scopes, exception));
        }
    }
}
