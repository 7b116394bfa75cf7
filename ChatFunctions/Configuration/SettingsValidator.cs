using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Configuration;

/// <summary>
/// Checks an options class's data annotations at start-up and reports each failure by its setting name
/// (CHAT_MAX_OUTPUT_TOKENS, not MaxOutputTokens), so a misconfigured app says exactly what to fix.
/// </summary>
public sealed class SettingsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var property in typeof(TOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var setting = SettingNames.Of(property);
            if (setting is null)
            {
                continue;
            }

            var value = property.GetValue(options);
            foreach (var attribute in property.GetCustomAttributes<ValidationAttribute>())
            {
                if (!attribute.IsValid(value))
                {
                    failures.Add($"{setting}: {Describe(attribute)} (was '{value}').");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }


    private static string Describe(ValidationAttribute attribute) => attribute switch
    {
        RangeAttribute range => $"must be between {range.Minimum} and {range.Maximum}",
        RequiredAttribute => "is required",
        MaxLengthAttribute max => $"must be at most {max.Length} characters",
        AllowedValuesAttribute allowed => $"must be one of {string.Join(", ", allowed.Values.OfType<string>().Where(v => v.Length > 0))}"
            + (allowed.Values.Any(v => v is null or "") ? " or empty" : ""),
        _ => "is invalid",
    };
}

/// <summary>The configuration keys the options classes bind to: the names the infrastructure must set.</summary>
public static class SettingNames
{
    public static string? Of(PropertyInfo property) =>
        property?.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name;

    public static IEnumerable<string> Of(Type optionsType) =>
        (optionsType ?? throw new ArgumentNullException(nameof(optionsType)))
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(Of)
            .OfType<string>();
}

/// <summary>Cross-setting rules: a chosen provider must have what it needs.</summary>
public sealed class ProviderSettingsValidator(IOptions<AzureOpenAIOptions> azure, IOptions<OpenAICompatibleOptions> compatible)
    : IValidateOptions<ChatServiceOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var az = azure.Value;
        var oc = compatible.Value;

        if (az.Endpoint is { } endpoint && !IsHttpUrl(endpoint))
        {
            failures.Add("AZURE_OPENAI_ENDPOINT: must be an absolute https:// URL such as https://my-openai.openai.azure.com/.");
        }

        if (az.IsConfigured && string.IsNullOrWhiteSpace(az.ChatDeployment))
        {
            failures.Add("AZURE_OPENAI_CHAT_DEPLOYMENT: is required when AZURE_OPENAI_ENDPOINT is set (the name of the model deployment).");
        }

        if (oc.BaseUrl is { } baseUrl && !IsHttpUrl(baseUrl))
        {
            failures.Add("OPENAI_BASE_URL: must be an absolute http(s):// URL such as http://localhost:11434/v1.");
        }

        if (oc.IsConfigured && string.IsNullOrWhiteSpace(oc.Model))
        {
            failures.Add("OPENAI_MODEL: is required when OPENAI_BASE_URL is set (for example llama3.2).");
        }

        if (options.Provider == ChatProviderKind.AzureOpenAI && !az.IsConfigured)
        {
            failures.Add("CHAT_PROVIDER: is AzureOpenAI but AZURE_OPENAI_ENDPOINT is not set.");
        }

        if (options.Provider == ChatProviderKind.OpenAICompatible && !oc.IsConfigured)
        {
            failures.Add("CHAT_PROVIDER: is OpenAICompatible but OPENAI_BASE_URL is not set.");
        }

        // The Responses API is Azure OpenAI's: the demo model has no such stream, and OpenAI-compatible local servers
        // mostly lack the endpoint or its reasoning events, so a silent fallback would hide a misconfiguration.
        var azureChosen = options.Provider == ChatProviderKind.AzureOpenAI || (options.Provider == ChatProviderKind.Auto && az.IsConfigured);
        if (options.Api == ChatApis.Responses && !azureChosen)
        {
            failures.Add("CHAT_API: responses needs Azure OpenAI (AZURE_OPENAI_ENDPOINT and CHAT_PROVIDER Auto or AzureOpenAI); the demo model and OpenAI-compatible servers speak chatCompletions only.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsHttpUrl(Uri uri) => uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);
}
