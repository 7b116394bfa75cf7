namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// The azd hook scripts (scripts/preprovision.sh, auth-init.sh, postprovision.sh, and their .ps1 twins run by the
/// PowerShell 7 that `dotnet tool restore` brings from the repository's tool manifest) against a fake `az` and `azd`
/// put first on PATH: the fakes record every call and answer from files the test writes, the way the real CLIs would
/// answer for a subscription in that state.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class AzdHookScriptTests : IDisposable
{
    private const string Tenant = "99999999-9999-9999-9999-999999999999";
    private const string ApiAppId = "aaaaaaaa-0000-0000-0000-000000000001";
    private const string SpaAppId = "bbbbbbbb-0000-0000-0000-000000000002";

    private readonly string _dir = Directory.CreateTempSubdirectory("azd-hooks-").FullName;

    public AzdHookScriptTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "bin"));
        WriteExecutable("azd", """
            #!/bin/sh
            # azd env config get KEY → the environment's config value as JSON, or exit 1 when the key is not set.
            if [ "$1 $2 $3" = "env config get" ]; then
              [ -f "$FAKE_STATE/azd-config-$4" ] || { echo "key '$4' not found" >&2; exit 1; }
              cat "$FAKE_STATE/azd-config-$4"; exit 0
            fi
            # azd env set NAME VALUE → one NAME=VALUE line.
            [ "$1 $2" = "env set" ] || { echo "fake azd: unexpected $*" >&2; exit 2; }
            [ -f "$FAKE_STATE/azd-set-fails" ] && { echo "ERROR: environment file is read-only" >&2; exit 1; }
            printf '%s=%s\n' "$3" "$4" >> "$FAKE_STATE/azd-env"
            """);
        WriteExecutable("az", $$"""
            #!/bin/sh
            printf '%s\n' "$*" >> "$FAKE_STATE/az-calls"
            # A call that starts with the words in az-fails-on fails, as az does for a missing permission.
            if [ -f "$FAKE_STATE/az-fails-on" ] && case "$*" in "$(cat "$FAKE_STATE/az-fails-on")"*) true ;; *) false ;; esac; then
              echo "ERROR: Insufficient privileges to complete the operation." >&2; exit 1
            fi
            value_of() { FLAG=$1; shift; prev=""; for a in "$@"; do [ "$prev" = "$FLAG" ] && { printf '%s' "$a"; return; }; prev=$a; done; }
            case "$1 $2 $3" in
              "cognitiveservices account list-deleted")
                [ -f "$FAKE_STATE/list-deleted-fails" ] && { echo "Please run 'az login'" >&2; exit 1; }
                [ -f "$FAKE_STATE/deleted" ] || { case "$*" in *"-o json"*) echo "[]" ;; esac; exit 0; }
                # -o tsv for preprovision.sh, -o json (name, location, id) for preprovision.ps1.
                case "$*" in
                  *"-o json"*) awk -F '\t' 'BEGIN { printf "[" } { printf "%s{\"name\":\"%s\",\"location\":\"%s\",\"id\":\"%s\"}", (NR > 1 ? "," : ""), $1, $2, $3 } END { print "]" }' "$FAKE_STATE/deleted" 2>/dev/null ;;
                  *) cat "$FAKE_STATE/deleted" 2>/dev/null ;;
                esac
                exit 0 ;;
            esac
            case "$1 $2 $3" in
              "account show --query") echo "{{Tenant}}"; exit 0 ;;
              "ad app show")
                id=$(value_of --id "$@"); query=$(value_of --query "$@")
                grep -qx "$id" "$FAKE_STATE/apps" 2>/dev/null || { echo "not found" >&2; exit 3; }
                case "$query" in
                  appId) echo "$id" ;;
                  id) echo "object-$id" ;;
                  api.oauth2PermissionScopes*) cat "$FAKE_STATE/scope-$id" 2>/dev/null || true ;;
                esac
                exit 0 ;;
              "ad app create")
                name=$(value_of --display-name "$@")
                case "$name" in *-api-*) id={{ApiAppId}} ;; *) id={{SpaAppId}} ;; esac
                echo "$id" >> "$FAKE_STATE/apps"; echo "$id"; exit 0 ;;
              "ad sp show") grep -qx "$(value_of --id "$@")" "$FAKE_STATE/sps" 2>/dev/null || exit 3; exit 0 ;;
              "ad sp create") value_of --id "$@" >> "$FAKE_STATE/sps"; echo >> "$FAKE_STATE/sps"; exit 0 ;;
              "rest --method PATCH")
                uri=$(value_of --uri "$@"); body=$(value_of --body "$@")
                printf '%s %s\n' "$uri" "$body" >> "$FAKE_STATE/patches"
                app=${uri##*/object-}
                scope=$(printf '%s' "$body" | sed -n 's/.*"oauth2PermissionScopes":\[{"id":"\([^"]*\)".*/\1/p')
                [ -n "$scope" ] && printf '%s\n' "$scope" > "$FAKE_STATE/scope-$app"
                exit 0 ;;
            esac
            echo "fake az: unexpected $*" >&2; exit 2
            """);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Preprovision_NeverProvisioned_SetsNoRestore_WithoutAskingAzure()
    {
        var result = await RunAsync("preprovision.sh", new() { ["AZURE_LOCATION"] = "eastus2" });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Equal(["AZURE_OPENAI_RESTORE=false"], AzdEnv());
        Assert.Empty(AzCalls());
    }

    [Fact]
    public async Task Preprovision_SoftDeletedAccountOfOurNameInOurRegion_SetsRestore()
    {
        Deleted(("cog-other", "eastus2"), ("cog-abc123", "swedencentral"));

        var result = await RunAsync("preprovision.sh", new() { ["AZURE_OPENAI_ACCOUNT_NAME"] = "cog-abc123", ["AZURE_OPENAI_LOCATION"] = "swedencentral", ["AZURE_LOCATION"] = "eastus2" });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Equal(["AZURE_OPENAI_RESTORE=true"], AzdEnv());
        Assert.Contains(AzCalls(), c => c.StartsWith("cognitiveservices account list-deleted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Preprovision_NoSoftDeletedAccountOfOurName_ClearsAnEarlierRestore()
    {
        Deleted(("cog-other", "swedencentral"));

        var result = await RunAsync("preprovision.sh", new() { ["AZURE_OPENAI_ACCOUNT_NAME"] = "cog-abc123", ["AZURE_OPENAI_LOCATION"] = "swedencentral", ["AZURE_OPENAI_RESTORE"] = "true" });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Equal(["AZURE_OPENAI_RESTORE=false"], AzdEnv());
    }

    [Fact]
    public async Task Preprovision_SoftDeletedAccountInAnotherRegion_StopsAndSaysHowToPurgeIt()
    {
        Deleted(("cog-abc123", "eastus2"));

        var result = await RunAsync("preprovision.sh", new() { ["AZURE_OPENAI_ACCOUNT_NAME"] = "cog-abc123", ["AZURE_OPENAI_LOCATION"] = "swedencentral" });

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("az cognitiveservices account purge --name cog-abc123 --resource-group rg-dev --location eastus2", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(AzdEnv());
    }

    [Fact]
    public async Task Preprovision_WhenAzureCannotBeAsked_WarnsAndLetsProvisioningGoOn()
    {
        File.WriteAllText(State("list-deleted-fails"), "");

        var result = await RunAsync("preprovision.sh", new() { ["AZURE_OPENAI_ACCOUNT_NAME"] = "cog-abc123", ["AZURE_OPENAI_LOCATION"] = "swedencentral" });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("could not list soft-deleted", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(AzdEnv());
    }

    [Fact]
    public async Task Preprovision_WithSignIn_CreatesBothRegistrations_ThenReusesThemOnTheNextRun()
    {
        var first = await RunAsync("preprovision.sh", new() { ["AZURE_AUTH_ENABLED"] = "true" });

        Assert.True(first.ExitCode == 0, first.Describe());
        Assert.Equal(["AZURE_OPENAI_RESTORE=false", $"AZURE_AUTH_TENANT_ID={Tenant}", $"AZURE_AUTH_API_CLIENT_ID={ApiAppId}", $"AZURE_AUTH_SPA_CLIENT_ID={SpaAppId}"], AzdEnv());
        Assert.Contains(AzCalls(), c => c.StartsWith("ad app create --display-name chatfunctions-api-dev --sign-in-audience AzureADMyOrg", StringComparison.Ordinal));
        Assert.Contains(AzCalls(), c => c.StartsWith("ad app create --display-name chatfunctions-web-dev --sign-in-audience AzureADMyOrg", StringComparison.Ordinal));
        var patches = File.ReadAllLines(State("patches"));
        var scope = File.ReadAllText(State($"scope-{ApiAppId}")).Trim();
        Assert.Matches("^[0-9a-f-]{36}$", scope);
        Assert.Contains(patches, p => p.Contains($"\"identifierUris\":[\"api://{ApiAppId}\"]", StringComparison.Ordinal)
            && p.Contains("\"requestedAccessTokenVersion\":2", StringComparison.Ordinal) && p.Contains("\"value\":\"chat\"", StringComparison.Ordinal));
        Assert.Contains(patches, p => p.Contains($"object-{SpaAppId} ", StringComparison.Ordinal)
            && p.Contains($"\"resourceAppId\":\"{ApiAppId}\",\"resourceAccess\":[{{\"id\":\"{scope}\",\"type\":\"Scope\"}}]", StringComparison.Ordinal));
        Assert.Contains(patches, p => p.Contains($"\"preAuthorizedApplications\":[{{\"appId\":\"{SpaAppId}\",\"delegatedPermissionIds\":[\"{scope}\"]}}]", StringComparison.Ordinal));
        Assert.Equal(2, AzCalls().Count(c => c.StartsWith("ad sp create", StringComparison.Ordinal)));

        // Second run, the ids now in the environment: nothing is created again, the scope is not replaced.
        File.Delete(State("az-calls"));
        File.Delete(State("azd-env"));
        var second = await RunAsync("preprovision.sh", new()
        {
            ["AZURE_AUTH_ENABLED"] = "true", ["AZURE_AUTH_API_CLIENT_ID"] = ApiAppId, ["AZURE_AUTH_SPA_CLIENT_ID"] = SpaAppId, ["AZURE_AUTH_TENANT_ID"] = Tenant,
        });

        Assert.True(second.ExitCode == 0, second.Describe());
        Assert.DoesNotContain(AzCalls(), c => c.StartsWith("ad app create", StringComparison.Ordinal) || c.StartsWith("ad sp create", StringComparison.Ordinal));
        Assert.Equal(scope, File.ReadAllText(State($"scope-{ApiAppId}")).Trim());
        Assert.Contains($"AZURE_AUTH_SPA_CLIENT_ID={SpaAppId}", AzdEnv());
    }

    [Fact]
    public async Task Postprovision_WithSignIn_SetsThePagesRedirectUris_AndDoesNothingWithout()
    {
        File.WriteAllText(State("apps"), SpaAppId + "\n");

        var off = await RunAsync("postprovision.sh", new() { ["WEB_URI"] = "https://web.example.net" });
        Assert.True(off.ExitCode == 0, off.Describe());
        Assert.Empty(AzCalls());

        var on = await RunAsync("postprovision.sh", new()
        {
            ["AZURE_AUTH_ENABLED"] = "true", ["AZURE_AUTH_SPA_CLIENT_ID"] = SpaAppId, ["WEB_URI"] = "https://web.example.net", ["ALLOW_LOCALHOST_CORS"] = "true",
        });
        Assert.True(on.ExitCode == 0, on.Describe());
        Assert.Equal(
            $"https://graph.microsoft.com/v1.0/applications/object-{SpaAppId} {{\"spa\":{{\"redirectUris\":[\"https://web.example.net\",\"http://localhost:4280\",\"http://localhost:5173\"]}}}}",
            Assert.Single(File.ReadAllLines(State("patches"))));
    }

    [Theory]
    [InlineData("sh", "Sweden Central", "swedencentral")]
    [InlineData("sh", "swedencentral", "Sweden Central")]
    [InlineData("pwsh", "Sweden Central", "swedencentral")]
    [InlineData("pwsh", "swedencentral", "Sweden Central")]
    public async Task Preprovision_SameRegionUnderItsDisplayName_IsTheSameRegion_SetsRestore(string shell, string deletedIn, string deployTo)
    {
        Deleted(("cog-abc123", deletedIn));

        var result = await RunHookAsync(shell, "preprovision", new() { ["AZURE_OPENAI_ACCOUNT_NAME"] = "cog-abc123", ["AZURE_OPENAI_LOCATION"] = deployTo });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Equal(["AZURE_OPENAI_RESTORE=true"], AzdEnv());
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public async Task Preprovision_OpenAILocationThatAzdPromptedFor_IsReadFromTheEnvironmentsConfig(string shell)
    {
        // azd keeps a prompted parameter in .azure/<env>/config.json, not in .env: the hook's environment lacks it.
        File.WriteAllText(State("azd-config-infra.parameters.openAiLocation"), "\"swedencentral\"\n");
        Deleted(("cog-abc123", "swedencentral"));

        var result = await RunHookAsync(shell, "preprovision", new() { ["AZURE_OPENAI_ACCOUNT_NAME"] = "cog-abc123", ["AZURE_LOCATION"] = "eastus2" });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Equal(["AZURE_OPENAI_RESTORE=true"], AzdEnv());
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public async Task Preprovision_WhenAzdCannotSaveTheResult_Fails(string shell)
    {
        File.WriteAllText(State("azd-set-fails"), "");

        var result = await RunHookAsync(shell, "preprovision", new() { ["AZURE_LOCATION"] = "eastus2" });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("read-only", result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public async Task Preprovision_WithSignIn_WhenAzCannotCreateTheRegistration_FailsAndSavesNoIds(string shell)
    {
        File.WriteAllText(State("az-fails-on"), "ad app create");

        var result = await RunHookAsync(shell, "preprovision", new() { ["AZURE_AUTH_ENABLED"] = "true" });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Insufficient privileges", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(AzdEnv(), line => line.StartsWith("AZURE_AUTH_", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public async Task Postprovision_WithSignIn_WhenAzCannotSetTheRedirectUri_Fails(string shell)
    {
        File.WriteAllText(State("apps"), SpaAppId + "\n");
        File.WriteAllText(State("az-fails-on"), "rest --method PATCH");

        var result = await RunHookAsync(shell, "postprovision", new()
        {
            ["AZURE_AUTH_ENABLED"] = "true", ["AZURE_AUTH_SPA_CLIENT_ID"] = SpaAppId, ["WEB_URI"] = "https://web.example.net",
        });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Insufficient privileges", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("redirect URIs of", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void PowerShellHooks_TurnFailedNativeCommandsIntoErrors()
    {
        foreach (var script in Directory.GetFiles(RepoFiles.PathOf("scripts"), "*.ps1"))
        {
            var text = File.ReadAllText(script);
            Assert.Contains("$ErrorActionPreference = 'Stop'", text, StringComparison.Ordinal);
            Assert.Contains("$PSNativeCommandUseErrorActionPreference = $true", text, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs scripts/NAME.sh with sh or scripts/NAME.ps1 with PowerShell 7, as azure.yaml's posix and windows hooks do.</summary>
    private Task<ProcessResult> RunHookAsync(string shell, string name, Dictionary<string, string> environment) =>
        shell == "sh" ? RunAsync($"{name}.sh", environment) : RunPwshAsync($"{name}.ps1", environment);

    private async Task<ProcessResult> RunPwshAsync(string script, Dictionary<string, string> environment)
    {
        var pwsh = await PowerShell.Value;
        var env = BaseEnvironment(environment);
        // PowerShell keeps its settings and module cache under HOME; the opt-outs spare each run a telemetry send and
        // an update check that have nowhere to go.
        env["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? "/root";
        env["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
        env["POWERSHELL_UPDATECHECK"] = "Off";

        return await ProcessRunner.RunAsync(
            "/usr/bin/env",
            ["-i", .. env.Select(e => $"{e.Key}={e.Value}"), "dotnet", pwsh, "-NoProfile", "-NonInteractive", "-File", RepoFiles.PathOf("scripts", script)],
            RepoFiles.Root,
            TimeSpan.FromSeconds(60));
    }

    /// <summary>PowerShell 7 from the repository's tool manifest (dotnet-tools.json), restored once per test run: the
    /// path of its pwsh.dll, which `dotnet pwsh` runs. Each hook then starts that dll directly: `dotnet pwsh` first
    /// starts the SDK's command line and the tool's shim, each a .NET process of its own, which doubled the CPU time of
    /// every PowerShell run (measured: 2.0–2.5 s against 1.1–1.3 s).</summary>
    private static readonly Lazy<Task<string>> PowerShell = new(async () =>
    {
        var restore = await ProcessRunner.RunAsync("dotnet", ["tool", "restore"], RepoFiles.Root, TimeSpan.FromMinutes(3));
        if (restore.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet tool restore failed: {restore.Describe()}");
        }

        // The tool as `dotnet pwsh` resolves it from the manifest; $PSHOME is the folder of its pwsh.dll.
        var home = await ProcessRunner.RunAsync("dotnet", ["pwsh", "-NoProfile", "-NonInteractive", "-Command", "$PSHOME"], RepoFiles.Root, TimeSpan.FromMinutes(1));
        var dll = Path.Combine(home.StandardOutput.Trim(), "pwsh.dll");
        if (home.ExitCode != 0 || !File.Exists(dll))
        {
            throw new InvalidOperationException($"the restored PowerShell's pwsh.dll was not found ({dll}): {home.Describe()}");
        }

        return dll;
    });

    private async Task<ProcessResult> RunAsync(string script, Dictionary<string, string> environment)
    {
        var env = BaseEnvironment(environment);

        // Only what the test sets: no value of the machine running the tests leaks into the hook.
        var result = await ProcessRunner.RunAsync("/usr/bin/env", ["-i", .. env.Select(e => $"{e.Key}={e.Value}"), "sh", RepoFiles.PathOf("scripts", script)], RepoFiles.Root, TimeSpan.FromSeconds(30));
        return result;
    }

    private Dictionary<string, string> BaseEnvironment(Dictionary<string, string> environment)
    {
        var env = new Dictionary<string, string>
        {
            ["PATH"] = $"{Path.Combine(_dir, "bin")}:/usr/bin:/bin",
            ["FAKE_STATE"] = _dir,
            ["AZURE_ENV_NAME"] = "dev",
            ["AZURE_RESOURCE_GROUP"] = "rg-dev",
        };
        foreach (var (key, value) in environment)
        {
            env[key] = value;
        }

        return env;
    }

    private void Deleted(params (string Name, string Location)[] accounts) =>
        File.WriteAllLines(State("deleted"), accounts.Select(a =>
            $"{a.Name}\t{a.Location}\t/subscriptions/0000/providers/Microsoft.CognitiveServices/locations/{a.Location}/resourceGroups/rg-dev/deletedAccounts/{a.Name}"));

    private List<string> AzdEnv() => File.Exists(State("azd-env")) ? [.. File.ReadAllLines(State("azd-env"))] : [];

    private List<string> AzCalls() => File.Exists(State("az-calls")) ? [.. File.ReadAllLines(State("az-calls"))] : [];

    private string State(string name) => Path.Combine(_dir, name);

    private void WriteExecutable(string name, string script)
    {
        var path = Path.Combine(_dir, "bin", name);
        File.WriteAllText(path, script.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The posix hook scripts are tested on Linux (the Bicep tests need linux-x64 too).");
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
