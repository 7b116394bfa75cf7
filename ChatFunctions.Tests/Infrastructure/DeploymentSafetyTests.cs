using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// On the compiled ARM: `azd up` cannot fail halfway on a region or a soft-deleted account, nothing broader
/// than needed is granted or exposed, and the optional network isolation and sign-in exist only when switched on.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class DeploymentSafetyTests
{
    [Fact]
    public async Task Location_OffersOnlyFlexConsumptionRegions_ThroughAzdsLocationPicker()
    {
        var location = (await BicepCli.MainTemplateAsync())["parameters"]!["location"]!;

        var allowed = AllowedValues(location);
        Assert.True(allowed.Count >= 20, $"only {allowed.Count} regions");
        // Regions with Flex Consumption, and ones without it that a free list let people pick.
        Assert.Superset(new HashSet<string> { "eastus", "eastus2", "westus2", "northeurope", "westeurope", "swedencentral", "australiaeast" }, allowed.ToHashSet());
        Assert.DoesNotContain("eastus2euap", allowed);
        Assert.DoesNotContain("qatarcentral", allowed);
        Assert.Equal("location", (string?)location["metadata"]!["azd"]!["type"]);
        Assert.Equal("${AZURE_LOCATION}", ParameterFileValue("location"));
    }

    [Fact]
    public async Task OpenAILocation_IsItsOwnParameter_WithItsOwnListAndAzdsQuotaCheckForTheDefaultModel()
    {
        var main = await BicepCli.MainTemplateAsync();
        var parameter = main["parameters"]!["openAiLocation"]!;

        Assert.False(parameter.AsObject().ContainsKey("defaultValue"), "azd prompts only for a location without a default.");
        var allowed = AllowedValues(parameter);
        Assert.Contains("swedencentral", allowed);
        Assert.Contains("eastus2", allowed);
        Assert.NotEqual(AllowedValues(main["parameters"]!["location"]!), allowed);

        var azd = parameter["metadata"]!["azd"]!;
        Assert.Equal("location", (string?)azd["type"]);
        var usage = Assert.Single(azd["usageName"]!.AsArray())!.GetValue<string>();
        // The quota azd checks must be the default deployment's: same SKU, model and capacity.
        var parameters = main["parameters"]!;
        Assert.Equal(
            $"OpenAI.{parameters["chatDeploymentSkuName"]!["defaultValue"]}.{parameters["chatModelName"]!["defaultValue"]},{parameters["chatDeploymentCapacity"]!["defaultValue"]}",
            usage);

        Assert.Equal("[parameters('openAiLocation')]", (string?)ArmTemplate.Module(main, "openAi").ModuleParameter("location"));
        Assert.Equal("${AZURE_OPENAI_LOCATION}", ParameterFileValue("openAiLocation"));
    }

    [Fact]
    public async Task DefaultModel_IsOneThatStillAcceptsNewDeployments()
    {
        var parameters = (await BicepCli.MainTemplateAsync())["parameters"]!;

        // gpt-4.1-mini (2025-04-14) stopped taking new customers on 2026-04-14 (docs/deploy.md, model choice).
        Assert.Equal("gpt-5.4-mini", (string?)parameters["chatModelName"]!["defaultValue"]);
        Assert.Equal("2026-03-17", (string?)parameters["chatModelVersion"]!["defaultValue"]);
        Assert.Equal("${AZURE_OPENAI_CHAT_MODEL=gpt-5.4-mini}", ParameterFileValue("chatModelName"));
        Assert.Equal("${AZURE_OPENAI_CHAT_MODEL_VERSION=2026-03-17}", ParameterFileValue("chatModelVersion"));
        Assert.Contains("`gpt-5.4-mini`", RepoFiles.Read("docs", "deploy.md"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASoftDeletedOpenAIAccount_IsRestored_WhenThePreprovisionHookSaysSo()
    {
        var main = await BicepCli.MainTemplateAsync();

        Assert.False((bool)main["parameters"]!["openAiRestore"]!["defaultValue"]!);
        Assert.Equal("${AZURE_OPENAI_RESTORE=false}", ParameterFileValue("openAiRestore"));
        Assert.Equal("[parameters('openAiRestore')]", (string?)ArmTemplate.Module(main, "openAi").ModuleParameter("restore"));
        var account = ArmTemplate.OfType(main, "Microsoft.CognitiveServices/accounts").Single();
        Assert.Equal("[parameters('restore')]", (string?)account.Properties["restore"]);
    }

    [Fact]
    public async Task NoOutput_CarriesTheApplicationInsightsConnectionString()
    {
        var main = await BicepCli.MainTemplateAsync();

        foreach (var (name, output) in main["outputs"]!.AsObject())
        {
            Assert.DoesNotContain("APPLICATIONINSIGHTS", name, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("connectionString", ArmTemplate.Text(output), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task ChatStreamLogs_HaveTheirContainer_AndALifecycleRuleDeletingThemAfterADay()
    {
        var main = await BicepCli.MainTemplateAsync();
        var storage = ArmTemplate.Module(main, "storage");

        Assert.Equal("chat-streams", (string?)main["variables"]!["chatStreamsContainerName"]);
        Assert.Contains("[variables('chatStreamsContainerName')]", storage.ModuleParameter("containers")!.AsArray().Select(c => (string?)c));
        Assert.Contains("[variables('chatBudgetsTableName')]", storage.ModuleParameter("tables")!.AsArray().Select(c => (string?)c));

        var rule = Assert.Single(storage.ModuleParameter("deleteBlobsAfterDays")!.AsArray())!;
        Assert.Equal("[format('{0}/', variables('chatStreamsContainerName'))]", (string?)rule["prefix"]);
        Assert.Equal(1, (int)rule["days"]!);

        var policy = ArmTemplate.OfType(main, "Microsoft.Storage/storageAccounts/managementPolicies").Single();
        Assert.Equal("default", Regex.Match((string?)policy.Body["name"] ?? "", @"'([^']+)'\)\]$").Groups[1].Value);
        var definition = policy.Properties["policy"]!["copy"]![0]!["input"]!["definition"]!;
        Assert.Contains("appendBlob", definition["filters"]!["blobTypes"]!.AsArray().Select(t => (string?)t));
        Assert.Equal("[parameters('deleteBlobsAfterDays')[copyIndex('rules')].prefix]", (string?)definition["filters"]!["prefixMatch"]![0]);
        Assert.Equal("[parameters('deleteBlobsAfterDays')[copyIndex('rules')].days]", (string?)definition["actions"]!["baseBlob"]!["delete"]!["daysAfterModificationGreaterThan"]);

        var table = ArmTemplate.OfType(main, "Microsoft.Storage/storageAccounts/tableServices/tables").Single(t => t.Body["copy"] is not null && t.Body["existing"] is null);
        Assert.Contains("parameters('tables')", ArmTemplate.Text(table.Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Conversations_HaveTheirContainerFromBicep_KeptUntilDeleted_WithNoExtraGrant()
    {
        var main = await BicepCli.MainTemplateAsync();
        var storage = ArmTemplate.Module(main, "storage");

        Assert.Equal(ChatFunctions.Conversations.BlobConversationStore.ContainerName, (string?)main["variables"]!["chatConversationsContainerName"]);
        Assert.Contains("[variables('chatConversationsContainerName')]", storage.ModuleParameter("containers")!.AsArray().Select(c => (string?)c));
        // No lifecycle rule reaches it: only the stream logs expire.
        Assert.DoesNotContain("chatConversationsContainerName", ArmTemplate.Text(storage.ModuleParameter("deleteBlobsAfterDays")!), StringComparison.Ordinal);
        // The one blob grant stays the one the Functions host needs; nothing account-wide is added for conversations.
        Assert.Single(storage.ModuleParameter("roleAssignments")!.AsArray());
    }

    [Fact]
    public async Task Shares_HaveTheirContainerFromBicep_KeptUntilRevoked_WithNoExtraGrant()
    {
        var main = await BicepCli.MainTemplateAsync();
        var storage = ArmTemplate.Module(main, "storage");

        Assert.Equal(ChatFunctions.Shares.BlobShareStore.ContainerName, (string?)main["variables"]!["chatSharesContainerName"]);
        Assert.Contains("[variables('chatSharesContainerName')]", storage.ModuleParameter("containers")!.AsArray().Select(c => (string?)c));
        Assert.DoesNotContain("chatSharesContainerName", ArmTemplate.Text(storage.ModuleParameter("deleteBlobsAfterDays")!), StringComparison.Ordinal);
        Assert.Single(storage.ModuleParameter("roleAssignments")!.AsArray());
    }

    [Fact]
    public async Task TheFunctionApp_SetsNoSiteConfigFlexConsumptionIgnores()
    {
        var main = await BicepCli.MainTemplateAsync();
        var site = ArmTemplate.OfType(main, "Microsoft.Web/sites").Single();

        var siteConfig = site.Properties["siteConfig"]!.AsObject();
        Assert.False(siteConfig.ContainsKey("ftpsState"));
        Assert.False(siteConfig.ContainsKey("http20Enabled"));
        Assert.Equal("1.2", (string?)siteConfig["minTlsVersion"]);
    }

    [Fact]
    public async Task NetworkIsolation_IsOffByDefault_AndItsResourcesExistOnlyWhenOn()
    {
        var main = await BicepCli.MainTemplateAsync();

        Assert.False((bool)main["parameters"]!["vnetEnabled"]!["defaultValue"]!);
        Assert.Equal("${AZURE_VNET_ENABLED=false}", ParameterFileValue("vnetEnabled"));

        var vnet = ArmTemplate.Module(main, "vnet");
        Assert.Equal("[parameters('vnetEnabled')]", (string?)vnet.Body["condition"]);
        var endpoints = ArmTemplate.Resources(main).Single(r => r.SymbolicName == "privateEndpoint").Body;
        Assert.Equal("[length(if(parameters('vnetEnabled'), variables('privateEndpoints'), createArray()))]", (string?)endpoints["copy"]!["count"]);

        // Every network resource sits in one of those two modules: none is deployed when the switch is off.
        var network = ArmTemplate.AllResources(main).Where(r => r.Type.StartsWith("Microsoft.Network/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(network);
        Assert.All(network, r => Assert.True(r.Path is "main/vnet" or "main/privateEndpoint", $"{r.Type} in {r.Path}"));

        // Blob and table for storage, the account for Azure OpenAI, each with its private DNS zone.
        var privateEndpoints = main["variables"]!["privateEndpoints"]!.AsArray();
        Assert.Equal(["blob", "table", "account"], privateEndpoints.Select(p => (string?)p!["groupId"]));
        Assert.Equal(
            ["[format('privatelink.blob.{0}', environment().suffixes.storage)]", "[format('privatelink.table.{0}', environment().suffixes.storage)]", "privatelink.openai.azure.com"],
            privateEndpoints.Select(p => (string?)p!["privateDnsZoneName"]));
        var endpointTemplate = ArmTemplate.Module(main, "privateEndpoint").ModuleTemplate;
        Assert.Contains(ArmTemplate.Resources(endpointTemplate), r => (string?)r.Body["type"] == "Microsoft.Network/privateDnsZones/virtualNetworkLinks");
        Assert.Contains(ArmTemplate.Resources(endpointTemplate), r => (string?)r.Body["type"] == "Microsoft.Network/privateEndpoints/privateDnsZoneGroups");

        // The Function App integrates with the delegated subnet only when on.
        Assert.Equal(
            "[if(parameters('vnetEnabled'), createObject('value', reference('vnet').outputs.appSubnetResourceId.value), createObject('value', ''))]",
            ArmTemplate.Text(ArmTemplate.Module(main, "api").ModuleParameter("virtualNetworkSubnetId")));
        var site = ArmTemplate.OfType(main, "Microsoft.Web/sites").Single();
        Assert.Equal("[if(empty(parameters('virtualNetworkSubnetId')), null(), parameters('virtualNetworkSubnetId'))]", (string?)site.Properties["virtualNetworkSubnetId"]);
        var subnet = ArmTemplate.OfType(main, "Microsoft.Network/virtualNetworks").Single().Properties["subnets"]![0]!;
        Assert.Equal("Microsoft.App/environments", (string?)subnet["properties"]!["delegations"]![0]!["properties"]!["serviceName"]);

        // Storage and Azure OpenAI close their public endpoints exactly when isolation is on.
        Assert.Equal("[if(parameters('vnetEnabled'), 'Disabled', 'Enabled')]", (string?)main["variables"]!["privateNetworkAccess"]);
        Assert.Equal("[variables('privateNetworkAccess')]", (string?)ArmTemplate.Module(main, "storage").ModuleParameter("publicNetworkAccess"));
        Assert.Equal("[variables('privateNetworkAccess')]", (string?)ArmTemplate.Module(main, "openAi").ModuleParameter("publicNetworkAccess"));
        var account = ArmTemplate.OfType(main, "Microsoft.Storage/storageAccounts").Single();
        Assert.Equal("[parameters('publicNetworkAccess')]", (string?)account.Properties["publicNetworkAccess"]);
        Assert.Equal("[if(equals(parameters('publicNetworkAccess'), 'Enabled'), 'Allow', 'Deny')]", (string?)account.Properties["networkAcls"]!["defaultAction"]);
        var openAi = ArmTemplate.OfType(main, "Microsoft.CognitiveServices/accounts").Single();
        Assert.Equal("[parameters('publicNetworkAccess')]", (string?)openAi.Properties["publicNetworkAccess"]);
        Assert.Equal("[if(equals(parameters('publicNetworkAccess'), 'Enabled'), 'Allow', 'Deny')]", (string?)openAi.Properties["networkAcls"]!["defaultAction"]);
    }

    [Fact]
    public async Task SignIn_IsOffByDefault_AndItsSettingsExistOnlyWhenOn()
    {
        var main = await BicepCli.MainTemplateAsync();
        var api = ArmTemplate.Module(main, "api");

        Assert.False((bool)main["parameters"]!["authEnabled"]!["defaultValue"]!);
        Assert.Equal("${AZURE_AUTH_ENABLED=false}", ParameterFileValue("authEnabled"));
        Assert.Equal("${AZURE_AUTH_API_CLIENT_ID}", ParameterFileValue("authApiClientId"));
        Assert.Equal("[parameters('authEnabled')]", (string?)api.ModuleParameter("authEnabled"));
        Assert.Equal("[parameters('authApiClientId')]", (string?)api.ModuleParameter("authClientId"));
        Assert.Equal(
            "[if(not(empty(parameters('authTenantId'))), createObject('value', parameters('authTenantId')), createObject('value', tenant().tenantId))]",
            ArmTemplate.Text(api.ModuleParameter("authTenantId")));

        var variables = api.ModuleTemplate["variables"]!;
        Assert.Equal(
            "[if(parameters('authEnabled'), createObject('CHAT_AUTH_ENABLED', 'true', 'CHAT_AUTH_TENANT_ID', parameters('authTenantId'), 'CHAT_AUTH_CLIENT_ID', parameters('authClientId')), createObject())]",
            (string?)variables["authAppSettings"]);
        // Nowhere else: the always-on settings never mention sign-in.
        Assert.DoesNotContain("CHAT_AUTH_", ArmTemplate.Text(variables["appSettings"]), StringComparison.Ordinal);
        Assert.DoesNotContain("CHAT_AUTH_", ArmTemplate.Text(variables["optionalAppSettings"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewAppSettings_AreWiredFromMainWithTheContractsDefaults()
    {
        var main = await BicepCli.MainTemplateAsync();
        var api = ArmTemplate.Module(main, "api");
        var settings = api.ModuleTemplate["variables"]!["appSettings"]!;

        (string Setting, string MainParameter, string ApiParameter, string Default)[] wiring =
        [
            ("CHAT_RESUME_GRACE_SECONDS", "chatResumeGraceSeconds", "chatResumeGraceSeconds", "30"),
            ("CHAT_RESUME_RETENTION_MINUTES", "chatResumeRetentionMinutes", "chatResumeRetentionMinutes", "60"),
            ("CHAT_CLIENT_STALL_TIMEOUT_SECONDS", "chatClientStallTimeoutSeconds", "chatClientStallTimeoutSeconds", "30"),
            ("CHAT_TOKEN_BUDGET_PER_DAY", "chatTokenBudgetPerDay", "chatTokenBudgetPerDay", "100000"),
            ("CHAT_TEMPERATURE", "chatTemperature", "chatTemperature", "1"),
            ("CHAT_REASONING_EFFORT", "chatReasoningEffort", "chatReasoningEffort", "low"),
            ("CHAT_API", "chatApi", "chatApi", "chatCompletions"),
            ("OTEL_TRACES_SAMPLER", "tracesSampler", "tracesSampler", "microsoft.rate_limited"),
            ("OTEL_TRACES_SAMPLER_ARG", "tracesSamplerArg", "tracesSamplerArg", "5"),
        ];
        foreach (var (setting, mainParameter, apiParameter, defaultValue) in wiring)
        {
            Assert.Contains($"parameters('{apiParameter}')", (string?)settings[setting], StringComparison.Ordinal);
            Assert.Equal($"[parameters('{mainParameter}')]", (string?)api.ModuleParameter(apiParameter));
            Assert.Equal(defaultValue, ArmTemplate.Text(main["parameters"]![mainParameter]!["defaultValue"]));
            Assert.Equal($"${{{setting}={defaultValue}}}", ParameterFileValue(mainParameter));
        }
    }

    [Fact]
    public void HostJson_UsesOpenTelemetry_WithoutTheClassicSdksSamplingSection()
    {
        var host = JsonNode.Parse(RepoFiles.Read("host.json"))!;

        Assert.Equal("OpenTelemetry", (string?)host["telemetryMode"]);
        // samplingSettings / enableLiveMetricsFilters configure the classic Application Insights SDK only; under
        // OpenTelemetry the exporter's sampler (OTEL_TRACES_SAMPLER, an app setting) and log levels set the volume.
        Assert.Null(host["logging"]!["applicationInsights"]);
        Assert.Equal("Warning", (string?)host["logging"]!["logLevel"]!["default"]);
        Assert.Equal("Information", (string?)host["logging"]!["logLevel"]!["Function"]);
    }

    private static List<string> AllowedValues(JsonNode parameter) =>
        [.. parameter["allowedValues"]!.AsArray().Select(v => v!.GetValue<string>())];

    private static string? ParameterFileValue(string name) =>
        (string?)JsonNode.Parse(RepoFiles.Read("infra", "main.parameters.json"))!["parameters"]![name]?["value"];
}
