using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChatFunctions.Bench;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// Compiles infra/ with the Bicep CLI and checks the security and wiring invariants on the ARM JSON that
/// Azure would receive, module by module.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class BicepTemplateTests
{
    private const string OpenAIUserRole = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";
    private const string StorageBlobDataOwnerRole = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string StorageQueueDataContributorRole = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string StorageTableDataContributorRole = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string MonitoringMetricsPublisherRole = "3913510d-42f4-4e42-8a64-420c390055eb";

    /// <summary>How main.bicep refers to the Function App's identity once compiled.</summary>
    private const string ApiIdentityPrincipal = "reference('apiIdentity').outputs.principalId.value";

    [Fact]
    public async Task Bicep_EveryFile_BuildsWithoutDiagnostics()
    {
        var files = BicepFiles();
        Assert.NotEmpty(files);
        var build = await BicepCli.BuildAsync();
        var result = build.Result;

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.True(string.IsNullOrWhiteSpace(result.StandardError + result.StandardOutput), $"bicep build printed diagnostics:\n{result.Describe()}");
        foreach (var file in files)
        {
            var json = Path.ChangeExtension(file, ".json");
            Assert.True(build.Compiled.Contains(json), $"{file} was not compiled ({json} missing).");
        }
    }

    [Fact]
    public async Task Bicep_EveryFile_LintsWithoutWarningsOrErrors_UnderTheShippedConfig()
    {
        var result = await BicepCli.RunAsync("lint", "--pattern", "**/*.bicep");

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.True(string.IsNullOrWhiteSpace(result.StandardError + result.StandardOutput), $"bicep lint reported:\n{result.Describe()}");
    }

    [Fact]
    public async Task Bicep_EveryFile_LintsWithoutWarningsOrErrors_UnderTheStrictConfig_WithTheRulesThatJudgeByDateOrBicepVersion()
    {
        // A copy of infra/ whose bicepconfig.json turns the rules the shipped one keeps off for azd's sake back into
        // errors: an API version that ages past two years while a newer one exists fails here, not in `azd provision`.
        var copy = Directory.CreateTempSubdirectory("bicep-strict-").FullName;
        try
        {
            CopyTree(BicepCli.InfraDirectory, copy);
            var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(copy, "bicepconfig.json")))!;
            foreach (var rule in StrictOnlyRules)
            {
                config["analyzers"]!["core"]!["rules"]![rule] = new JsonObject { ["level"] = "error" };
            }

            await File.WriteAllTextAsync(Path.Combine(copy, "bicepconfig.json"), config.ToJsonString());

            var result = await ProcessRunner.RunAsync(BicepCli.ExecutablePath, ["lint", "--pattern", "**/*.bicep"], copy, TimeSpan.FromMinutes(3));

            Assert.True(result.ExitCode == 0, result.Describe());
            Assert.True(string.IsNullOrWhiteSpace(result.StandardError + result.StandardOutput), $"bicep lint (strict) reported:\n{result.Describe()}");
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    /// <summary>Rules whose verdict on unchanged files can change with the date or the Bicep version azd bundles.</summary>
    private static readonly string[] StrictOnlyRules = ["use-recent-api-versions"];

    [Fact]
    public void BicepConfig_TurnsEveryLinterRuleIntoAnError_ExceptThoseThatCanStartFailingProvisioningByThemselves()
    {
        var config = JsonNode.Parse(RepoFiles.Read("infra", "bicepconfig.json"))!;
        var core = config["analyzers"]!["core"]!;
        Assert.True((bool)core["enabled"]!);
        var rules = core["rules"]!.AsObject();
        Assert.True(rules.Count >= 30, "bicepconfig.json should list the linter's rules.");

        // azd compiles with the Bicep it bundles, and an error-level diagnostic fails `azd provision`. A rule that judges
        // by today's date (or by what that Bicep version knows) could start failing every user's provisioning months
        // after a release with no change here, so the shipped config keeps it off; the strict lint test above keeps it
        // an error for us. use-recent-module-versions needs the public module registry, which these machines cannot reach.
        string[] offOnPurpose = [.. StrictOnlyRules, "use-recent-module-versions"];
        foreach (var (rule, setting) in rules)
        {
            var level = (string?)setting!["level"];
            Assert.True(level == "error" || (offOnPurpose.Contains(rule) && level is "off" or "warning"), $"{rule} is '{level}'.");
        }

        foreach (var rule in StrictOnlyRules)
        {
            Assert.NotEqual("error", (string?)rules[rule]?["level"]);
        }

        foreach (var rule in new[] { "no-unused-params", "no-unused-vars", "no-hardcoded-env-urls", "outputs-should-not-contain-secrets", "secure-secrets-in-params", "use-secure-value-for-secure-inputs" })
        {
            Assert.Equal("error", (string?)rules[rule]?["level"]);
        }
    }

    private static void CopyTree(string source, string destination)
    {
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(destination, Path.GetRelativePath(source, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(destination, Path.GetRelativePath(source, file)));
        }
    }

    [Fact]
    public async Task Main_TargetsTheSubscription_AndCreatesTheResourceGroupWithAzdTags()
    {
        var main = await BicepCli.MainTemplateAsync();

        Assert.Contains("subscriptionDeploymentTemplate.json", (string?)main["$schema"], StringComparison.Ordinal);
        var rg = ArmTemplate.Resources(main).Single(r => (string?)r.Body["type"] == "Microsoft.Resources/resourceGroups").Body;
        Assert.Equal("[variables('tags')]", (string?)rg["tags"]);
        Assert.Equal("[parameters('environmentName')]", (string?)main["variables"]!["tags"]!["azd-env-name"]);
        Assert.Equal(
            "[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]",
            (string?)main["variables"]!["resourceToken"]);
        var abbreviations = JsonNode.Parse(RepoFiles.Read("infra", "abbreviations.json"))!;
        // loadJsonContent inlines the file into a generated variable that abbrs refers to.
        var abbrs = main["variables"]!["abbrs"];
        if (abbrs is JsonValue value && value.TryGetValue<string>(out var reference) && Regex.Match(reference, @"^\[variables\('([^']+)'\)\]$") is { Success: true } match)
        {
            abbrs = main["variables"]![match.Groups[1].Value];
        }

        Assert.True(JsonNode.DeepEquals(abbreviations, abbrs), "main.bicep should load its name prefixes from abbreviations.json.");
    }

    [Fact]
    public async Task EveryParameter_HasADescriptionThatSaysWhetherItIsRequired()
    {
        var main = await BicepCli.MainTemplateAsync();

        foreach (var (path, template) in ArmTemplate.AllTemplates(main))
        {
            foreach (var (name, parameter) in template["parameters"]?.AsObject() ?? [])
            {
                var description = (string?)parameter!["metadata"]?["description"] ?? "";
                var hasDefault = parameter.AsObject().ContainsKey("defaultValue");
                Assert.True(
                    description.StartsWith(hasDefault ? "Optional." : "Required.", StringComparison.Ordinal),
                    $"{path}: parameter '{name}' description '{description}' should start with {(hasDefault ? "Optional." : "Required.")}");
            }
        }
    }

    [Fact]
    public async Task EveryModule_OutputsItsNameAndResourceId()
    {
        var main = await BicepCli.MainTemplateAsync();

        var modules = ArmTemplate.AllTemplates(main).Where(t => t.Path != "main").ToList();
        Assert.True(modules.Count >= 8, $"only {modules.Count} modules");
        foreach (var (path, template) in modules)
        {
            var outputs = template["outputs"]?.AsObject() ?? [];
            Assert.True(outputs.ContainsKey("name") && outputs.ContainsKey("resourceId"), $"{path} outputs {string.Join(", ", outputs.Select(o => o.Key))}");
        }
    }

    [Fact]
    public async Task Main_OutputsTheUpperSnakeNamesAzdAndTheLocalSettingsUse()
    {
        var main = await BicepCli.MainTemplateAsync();
        var outputs = main["outputs"]!.AsObject();

        foreach (var (name, _) in outputs)
        {
            Assert.Matches("^[A-Z][A-Z0-9_]*$", name);
        }

        string[] expected =
        [
            "AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_CHAT_DEPLOYMENT",
            "API_BASE_URL", "WEB_URI", "SERVICE_API_NAME", "SERVICE_WEB_NAME", "AZURE_FUNCTION_APP_NAME",
        ];
        foreach (var name in expected)
        {
            Assert.True(outputs.ContainsKey(name), $"output {name} missing");
        }

        Assert.Equal("[reference('api').outputs.uri.value]", (string?)outputs["API_BASE_URL"]!["value"]);
        Assert.Equal("[reference('web').outputs.uri.value]", (string?)outputs["WEB_URI"]!["value"]);
        Assert.Equal("[reference('openAi').outputs.endpoint.value]", (string?)outputs["AZURE_OPENAI_ENDPOINT"]!["value"]);
    }

    [Fact]
    public async Task StorageAccounts_AllowNoSharedKeyNoPublicBlobAndOnlyTls12()
    {
        var main = await BicepCli.MainTemplateAsync();

        var accounts = ArmTemplate.OfType(main, "Microsoft.Storage/storageAccounts").ToList();
        Assert.NotEmpty(accounts);
        foreach (var account in accounts)
        {
            Assert.False((bool)account.Properties["allowSharedKeyAccess"]!);
            Assert.False((bool)account.Properties["allowBlobPublicAccess"]!);
            Assert.Equal("TLS1_2", (string?)account.Properties["minimumTlsVersion"]);
            Assert.True((bool)account.Properties["supportsHttpsTrafficOnly"]!);
        }

        foreach (var container in ArmTemplate.OfType(main, "Microsoft.Storage/storageAccounts/blobServices/containers"))
        {
            Assert.Equal("None", (string?)container.Properties["publicAccess"]);
        }
    }

    [Fact]
    public async Task OpenAIAndApplicationInsights_DisableLocalAuth()
    {
        var main = await BicepCli.MainTemplateAsync();

        var openAi = ArmTemplate.OfType(main, "Microsoft.CognitiveServices/accounts").Single();
        Assert.True((bool)openAi.Properties["disableLocalAuth"]!);
        Assert.NotNull(openAi.Properties["customSubDomainName"]);
        Assert.Equal("OpenAI", (string?)ArmTemplate.Module(main, "openAi").ModuleParameter("kind"));

        var components = ArmTemplate.OfType(main, "Microsoft.Insights/components").ToList();
        Assert.NotEmpty(components);
        Assert.All(components, c => Assert.True((bool)c.Properties["DisableLocalAuth"]!));
        Assert.All(components, c => Assert.NotNull(c.Properties["WorkspaceResourceId"]));
    }

    [Fact]
    public async Task NoTemplate_ListsKeysOrSecrets()
    {
        var text = ArmTemplate.Text(await BicepCli.MainTemplateAsync());

        Assert.DoesNotContain("listKeys(", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("AccountKey=", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("InstrumentationKey", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAIUser_IsAssignedToTheFunctionIdentity_AtTheOpenAIAccountScope()
    {
        var main = await BicepCli.MainTemplateAsync();
        var openAiModule = ArmTemplate.Module(main, "openAi");

        var assignments = ArmTemplate.Text(openAiModule.ModuleParameter("roleAssignments"));
        Assert.Contains(
            $"createObject('principalId', {ApiIdentityPrincipal}, 'principalType', 'ServicePrincipal', 'roleDefinitionId', '{OpenAIUserRole}'",
            assignments,
            StringComparison.Ordinal);

        var roleAssignment = ArmTemplate.Resources(openAiModule.ModuleTemplate)
            .Single(r => (string?)r.Body["type"] == "Microsoft.Authorization/roleAssignments").Body;
        Assert.Equal("[resourceId('Microsoft.CognitiveServices/accounts', parameters('name'))]", (string?)roleAssignment["scope"]);
        AssertRoleAssignmentShape(roleAssignment, "Microsoft.CognitiveServices/accounts");
    }

    [Fact]
    public async Task TheDeployingUser_GetsOpenAIUser_WithAPrincipalTypeDetectedFromTheDeployer()
    {
        var main = await BicepCli.MainTemplateAsync();

        var assignments = ArmTemplate.Text(ArmTemplate.Module(main, "openAi").ModuleParameter("roleAssignments"));
        Assert.Contains(
            $"if(empty(parameters('principalId')), createArray(), createArray(createObject('principalId', parameters('principalId'), 'principalType', variables('effectivePrincipalType'), 'roleDefinitionId', '{OpenAIUserRole}'",
            assignments,
            StringComparison.Ordinal);
        Assert.Equal("", (string?)main["parameters"]!["principalType"]!["defaultValue"]);
        Assert.Equal("", (string?)main["parameters"]!["principalId"]!["defaultValue"]);

        // Unset, the type comes from deployer(): a service principal (CI) has no user principal name.
        Assert.Equal(
            "[if(not(empty(parameters('principalType'))), parameters('principalType'), if(empty(coalesce(tryGet(deployer(), 'userPrincipalName'), '')), 'ServicePrincipal', 'User'))]",
            (string?)main["variables"]!["effectivePrincipalType"]);
        // And main.parameters.json passes azd's value without a default that would hide the detection.
        var file = JsonNode.Parse(RepoFiles.Read("infra", "main.parameters.json"))!["parameters"]!;
        Assert.Equal("${AZURE_PRINCIPAL_TYPE}", (string?)file["principalType"]!["value"]);
    }

    [Fact]
    public async Task TheFunctionIdentity_GetsBlobDataOwner_TableDataContributorOnTheBudgetsTableOnly_NoQueueRole_AndMetricsPublisher()
    {
        var main = await BicepCli.MainTemplateAsync();

        var storageModule = ArmTemplate.Module(main, "storage");
        var storageAssignment = Assert.Single(storageModule.ModuleParameter("roleAssignments")!.AsArray())!;
        Assert.Equal(StorageBlobDataOwnerRole, (string?)storageAssignment["roleDefinitionId"]);
        Assert.Equal($"[{ApiIdentityPrincipal}]", (string?)storageAssignment["principalId"]);
        Assert.Equal("ServicePrincipal", (string?)storageAssignment["principalType"]);

        var tableAssignment = Assert.Single(storageModule.ModuleParameter("tableRoleAssignments")!.AsArray())!;
        Assert.Equal("[variables('chatBudgetsTableName')]", (string?)tableAssignment["tableName"]);
        Assert.Equal("chatbudgets", (string?)main["variables"]!["chatBudgetsTableName"]);
        Assert.Equal(StorageTableDataContributorRole, (string?)tableAssignment["assignment"]!["roleDefinitionId"]);
        Assert.Equal($"[{ApiIdentityPrincipal}]", (string?)tableAssignment["assignment"]!["principalId"]);

        // An HTTP app uses no queues: the queue role appears nowhere, for anyone.
        Assert.DoesNotContain(StorageQueueDataContributorRole, ArmTemplate.Text(main), StringComparison.OrdinalIgnoreCase);

        var storageRoleAssignments = ArmTemplate.Resources(storageModule.ModuleTemplate)
            .Where(r => (string?)r.Body["type"] == "Microsoft.Authorization/roleAssignments").ToDictionary(r => r.SymbolicName, r => r.Body);
        Assert.Equal("[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]", (string?)storageRoleAssignments["roleAssignment"]["scope"]);
        Assert.Equal(
            "[resourceId('Microsoft.Storage/storageAccounts/tableServices/tables', parameters('name'), 'default', parameters('tableRoleAssignments')[copyIndex()].tableName)]",
            (string?)storageRoleAssignments["tableRoleAssignment"]["scope"]);

        var insightsModule = ArmTemplate.Module(main, "applicationInsights");
        Assert.Contains(insightsModule.ModuleParameter("roleAssignments")!.AsArray(), a =>
            (string?)a!["roleDefinitionId"] == MonitoringMetricsPublisherRole
            && (string?)a["principalId"] == $"[{ApiIdentityPrincipal}]"
            && (string?)a["principalType"] == "ServicePrincipal");
        var insightsRoleAssignment = ArmTemplate.Resources(insightsModule.ModuleTemplate)
            .Single(r => (string?)r.Body["type"] == "Microsoft.Authorization/roleAssignments").Body;
        Assert.Equal("[resourceId('Microsoft.Insights/components', parameters('name'))]", (string?)insightsRoleAssignment["scope"]);
    }

    [Fact]
    public async Task EveryRoleAssignment_HasAGuidNameAndAnExplicitPrincipalType()
    {
        var main = await BicepCli.MainTemplateAsync();

        var assignments = ArmTemplate.OfType(main, "Microsoft.Authorization/roleAssignments").ToList();
        Assert.True(assignments.Count >= 3);
        foreach (var assignment in assignments)
        {
            AssertRoleAssignmentShape(assignment.Body, assignment.Path);
        }
    }

    [Fact]
    public async Task TheFunctionApp_RunsOnFlexConsumption_AsDotnetIsolated10_WithTheUserAssignedIdentity()
    {
        var main = await BicepCli.MainTemplateAsync();
        var api = ArmTemplate.Module(main, "api");
        Assert.Equal("[reference('apiIdentity').outputs.resourceId.value]", (string?)api.ModuleParameter("identityId"));
        Assert.Equal("[reference('apiIdentity').outputs.clientId.value]", (string?)api.ModuleParameter("identityClientId"));

        var plan = ArmTemplate.Module(api.ModuleTemplate, "plan");
        Assert.Equal("FC1", (string?)plan.ModuleParameter("sku")!["name"]);
        Assert.Equal("FlexConsumption", (string?)plan.ModuleParameter("sku")!["tier"]);
        Assert.True((bool)plan.ModuleParameter("reserved")!);

        var functionAppModule = ArmTemplate.Module(api.ModuleTemplate, "functionApp");
        Assert.Equal("dotnet-isolated", (string?)functionAppModule.ModuleParameter("runtimeName"));
        Assert.Equal("10.0", (string?)functionAppModule.ModuleParameter("runtimeVersion"));

        var site = ArmTemplate.Resources(functionAppModule.ModuleTemplate).Single(r => (string?)r.Body["type"] == "Microsoft.Web/sites").Body;
        Assert.Equal("functionapp,linux", (string?)site["kind"]);
        Assert.Equal("UserAssigned", (string?)site["identity"]!["type"]);
        Assert.True(site["identity"]!["userAssignedIdentities"]!.AsObject().ContainsKey("[format('{0}', parameters('identityId'))]"));
        var properties = site["properties"]!;
        Assert.True((bool)properties["httpsOnly"]!);

        var config = properties["functionAppConfig"]!;
        var storage = config["deployment"]!["storage"]!;
        Assert.Equal("blobContainer", (string?)storage["type"]);
        Assert.Equal("UserAssignedIdentity", (string?)storage["authentication"]!["type"]);
        Assert.Equal("[parameters('identityId')]", (string?)storage["authentication"]!["userAssignedIdentityResourceId"]);
        Assert.Equal("[parameters('runtimeName')]", (string?)config["runtime"]!["name"]);
        Assert.Equal("[parameters('runtimeVersion')]", (string?)config["runtime"]!["version"]);
    }

    [Fact]
    public async Task FlexConsumptionScale_IsParameterisedFromMainToTheSite()
    {
        var main = await BicepCli.MainTemplateAsync();
        var api = ArmTemplate.Module(main, "api");
        var functionAppModule = ArmTemplate.Module(api.ModuleTemplate, "functionApp");
        var scale = ArmTemplate.Resources(functionAppModule.ModuleTemplate)
            .Single(r => (string?)r.Body["type"] == "Microsoft.Web/sites").Body["properties"]!["functionAppConfig"]!["scaleAndConcurrency"]!;

        Assert.Equal("[parameters('instanceMemoryMB')]", (string?)scale["instanceMemoryMB"]);
        Assert.Equal("[parameters('maximumInstanceCount')]", (string?)scale["maximumInstanceCount"]);
        Assert.Equal("[parameters('httpPerInstanceConcurrency')]", (string?)scale["triggers"]!["http"]!["perInstanceConcurrency"]);
        Assert.Contains("parameters('httpAlwaysReadyInstanceCount')", (string?)scale["alwaysReady"], StringComparison.Ordinal);
        Assert.Contains("'name', 'http'", (string?)scale["alwaysReady"], StringComparison.Ordinal);

        (string Main, string Api)[] chain =
        [
            ("functionInstanceMemoryMB", "instanceMemoryMB"),
            ("functionMaximumInstanceCount", "maximumInstanceCount"),
            ("functionHttpPerInstanceConcurrency", "httpPerInstanceConcurrency"),
            ("functionAlwaysReadyInstanceCount", "httpAlwaysReadyInstanceCount"),
        ];
        foreach (var (mainParameter, apiParameter) in chain)
        {
            Assert.NotNull(main["parameters"]![mainParameter]);
            Assert.Equal($"[parameters('{mainParameter}')]", (string?)api.ModuleParameter(apiParameter));
            Assert.Equal($"[parameters('{apiParameter}')]", (string?)functionAppModule.ModuleParameter(apiParameter));
        }
    }

    [Fact]
    public async Task TheChatModelDeployment_TakesNameVersionSkuAndCapacityFromParameters()
    {
        var main = await BicepCli.MainTemplateAsync();
        var openAiModule = ArmTemplate.Module(main, "openAi");

        var deployment = Assert.Single(openAiModule.ModuleParameter("deployments")!.AsArray())!;
        Assert.Equal("[parameters('chatDeploymentName')]", (string?)deployment["name"]);
        Assert.Equal("[parameters('chatModelName')]", (string?)deployment["model"]!["name"]);
        Assert.Equal("[parameters('chatModelVersion')]", (string?)deployment["model"]!["version"]);
        Assert.Equal("[parameters('chatDeploymentSkuName')]", (string?)deployment["sku"]!["name"]);
        Assert.Equal("[parameters('chatDeploymentCapacity')]", (string?)deployment["sku"]!["capacity"]);
        foreach (var parameter in new[] { "chatDeploymentName", "chatModelName", "chatModelVersion", "chatDeploymentSkuName", "chatDeploymentCapacity" })
        {
            Assert.NotNull(main["parameters"]![parameter]!["defaultValue"]);
        }

        var resource = ArmTemplate.Resources(openAiModule.ModuleTemplate)
            .Single(r => (string?)r.Body["type"] == "Microsoft.CognitiveServices/accounts/deployments").Body;
        Assert.Equal("[parameters('deployments')[copyIndex()].sku.capacity]", (string?)resource["sku"]!["capacity"]);
        Assert.Equal("[parameters('deployments')[copyIndex()].model.version]", (string?)resource["properties"]!["model"]!["version"]);

        // The app is told the deployment it got.
        Assert.Equal("[parameters('chatDeploymentName')]", (string?)ArmTemplate.Module(main, "api").ModuleParameter("openAiChatDeploymentName"));
    }

    [Fact]
    public async Task Cors_AllowsExactlyTheStaticWebAppOrigin_AndLocalhostOnlyWhenAsked()
    {
        var main = await BicepCli.MainTemplateAsync();
        var api = ArmTemplate.Module(main, "api");

        Assert.Equal("[reference('web').outputs.uri.value]", (string?)api.ModuleParameter("webOrigin"));
        Assert.Equal("[parameters('allowLocalhostCors')]", (string?)api.ModuleParameter("allowLocalhostOrigins"));
        Assert.False((bool)main["parameters"]!["allowLocalhostCors"]!["defaultValue"]!);

        var web = ArmTemplate.OfType(main, "Microsoft.Web/staticSites").Single();
        var webUri = (string?)web.Template["outputs"]!["uri"]!["value"];
        Assert.StartsWith("[format('https://{0}', reference(resourceId('Microsoft.Web/staticSites', parameters('name'))", webUri, StringComparison.Ordinal);
        Assert.EndsWith(".defaultHostname)]", webUri, StringComparison.Ordinal);

        var localhost = api.ModuleTemplate["variables"]!["localhostOrigins"]!.AsArray().Select(o => (string?)o).ToList();
        Assert.Equal(["http://localhost:4280", "http://localhost:5173", "http://localhost:7071"], localhost);

        var functionAppModule = ArmTemplate.Module(api.ModuleTemplate, "functionApp");
        Assert.Equal(
            "[if(parameters('allowLocalhostOrigins'), createObject('value', concat(createArray(parameters('webOrigin')), variables('localhostOrigins'))), createObject('value', createArray(parameters('webOrigin'))))]",
            ArmTemplate.Text(functionAppModule.ModuleParameter("allowedOrigins")));

        var cors = ArmTemplate.Resources(functionAppModule.ModuleTemplate)
            .Single(r => (string?)r.Body["type"] == "Microsoft.Web/sites").Body["properties"]!["siteConfig"]!["cors"]!;
        Assert.Equal("[parameters('allowedOrigins')]", (string?)cors["allowedOrigins"]);
        Assert.False((bool)cors["supportCredentials"]!);

        // No wildcard origin anywhere, in any form.
        var text = ArmTemplate.Text(main);
        Assert.DoesNotMatch(@"['""]\*['""]", text);
    }

    [Fact]
    public async Task AppSettings_SetEveryAzureOpenAISettingTheCodeReads_ExceptTheKey()
    {
        var main = await BicepCli.MainTemplateAsync();
        var settings = AppSettings(main);

        var names = AppSettingNames.Of(AppSettingNames.OptionsType("AzureOpenAIOptions"));
        Assert.Contains("AZURE_OPENAI_API_KEY", names);
        foreach (var name in names.Where(n => n != "AZURE_OPENAI_API_KEY"))
        {
            Assert.True(settings.ContainsKey(name), $"app setting {name} (read by AzureOpenAIOptions) is not set in Azure.");
        }

        Assert.Equal("[parameters('openAiEndpoint')]", (string?)settings["AZURE_OPENAI_ENDPOINT"]);
        Assert.Equal("[parameters('openAiChatDeploymentName')]", (string?)settings["AZURE_OPENAI_CHAT_DEPLOYMENT"]);
        Assert.Equal("[parameters('identityClientId')]", (string?)settings["AZURE_CLIENT_ID"]);
        Assert.Equal("[reference('openAi').outputs.endpoint.value]", (string?)ArmTemplate.Module(main, "api").ModuleParameter("openAiEndpoint"));

        // Keyless: no key setting, not even an empty one, anywhere in the deployment.
        var text = ArmTemplate.Text(main);
        Assert.DoesNotContain("AZURE_OPENAI_API_KEY", text, StringComparison.Ordinal);
        Assert.DoesNotContain("OPENAI_API_KEY", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppSettings_PinTheProviderToAnAzureOpenAIValueTheAppParses()
    {
        var settings = AppSettings(await BicepCli.MainTemplateAsync());

        var value = (string?)settings["CHAT_PROVIDER"];
        var property = AppSettingNames.Property("CHAT_PROVIDER");
        var providerType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        Assert.True(providerType.IsEnum, $"CHAT_PROVIDER binds to {providerType}, expected an enum.");
        Assert.True(Enum.TryParse(providerType, value, ignoreCase: true, out var parsed), $"'{value}' is not a {providerType.Name}.");
        Assert.Equal("AzureOpenAI", parsed!.ToString());

        // Deployed, a missing model setting must fail loudly rather than fall back to the demo model.
        var demo = AppSettingNames.Property("CHAT_DEMO_ENABLED");
        Assert.Equal(typeof(bool), demo.PropertyType);
        Assert.False(bool.Parse((string?)settings["CHAT_DEMO_ENABLED"] ?? "true"));
    }

    [Fact]
    public async Task AppSettings_ConnectStorageAndTelemetryWithTheIdentity_AndOmitWhatFlexConsumptionRejects()
    {
        var settings = AppSettings(await BicepCli.MainTemplateAsync());

        // Per service, as the Flex Consumption docs show and as the app's StorageAccount reads them.
        Assert.Equal("[parameters('storageBlobEndpoint')]", (string?)settings["AzureWebJobsStorage__blobServiceUri"]);
        Assert.Equal("[parameters('storageTableEndpoint')]", (string?)settings["AzureWebJobsStorage__tableServiceUri"]);
        Assert.False(settings.ContainsKey("AzureWebJobsStorage__accountName"));
        var api = ArmTemplate.Module(await BicepCli.MainTemplateAsync(), "api");
        Assert.Equal("[reference('storage').outputs.primaryBlobEndpoint.value]", (string?)api.ModuleParameter("storageBlobEndpoint"));
        Assert.Equal("[reference('storage').outputs.primaryTableEndpoint.value]", (string?)api.ModuleParameter("storageTableEndpoint"));
        Assert.Equal("managedidentity", (string?)settings["AzureWebJobsStorage__credential"]);
        Assert.Equal("[parameters('identityClientId')]", (string?)settings["AzureWebJobsStorage__clientId"]);
        Assert.Equal("[parameters('applicationInsightsConnectionString')]", (string?)settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        Assert.Equal("[format('Authorization=AAD;ClientId={0}', parameters('identityClientId'))]", (string?)settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);

        // A connection string would need a key; Flex Consumption refuses the runtime settings (functionAppConfig holds them).
        foreach (var forbidden in new[] { "AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE" })
        {
            Assert.False(settings.ContainsKey(forbidden), $"{forbidden} must not be set on Flex Consumption.");
        }
    }

    [Fact]
    public async Task AppSettings_UseOnlyNamesTheAppOrTheFunctionsHostReads()
    {
        var main = await BicepCli.MainTemplateAsync();
        var settings = AppSettings(main);
        var authSettings = AuthAppSettingNames(main);
        var appNames = AppSettingNames.AllOptionsTypes().SelectMany(AppSettingNames.Of).ToHashSet();

        foreach (var name in settings.Select(s => s.Key).Concat(authSettings))
        {
            // The host's and the exporter's own (OTEL_TRACES_SAMPLER: Hosting/TelemetryExtensions reads it too).
            var hostSetting = name.StartsWith("AzureWebJobsStorage__", StringComparison.Ordinal)
                || name.StartsWith("APPLICATIONINSIGHTS_", StringComparison.Ordinal)
                || name.StartsWith("OTEL_", StringComparison.Ordinal);
            Assert.True(
                hostSetting || appNames.Contains(name) || SettingsOfTheSharedContract.Contains(name) || AppUnderTest.RuntimeEnvironment.ContainsKey(name),
                $"app setting {name} is read by nothing (typo?).");
        }
    }

    [Fact]
    public async Task AppSettings_GiveTheWorkerTheRuntimeEnvironmentTheBenchmarkMeasures()
    {
        var settings = AppSettings(await BicepCli.MainTemplateAsync());

        Assert.NotEmpty(AppUnderTest.RuntimeEnvironment);
        foreach (var (name, value) in AppUnderTest.RuntimeEnvironment)
        {
            Assert.True(settings.ContainsKey(name), $"api.bicep does not set {name}, which the benchmark runs the app with.");
            Assert.Equal(value, (string?)settings[name]);
        }
    }

    [Fact]
    public async Task AzdServiceTags_MarkTheFunctionAppAsApiAndTheStaticWebAppAsWeb()
    {
        var main = await BicepCli.MainTemplateAsync();

        Assert.Equal("api", (string?)ArmTemplate.Module(main, "api").ModuleParameter("serviceName"));
        Assert.Equal("web", (string?)ArmTemplate.Module(main, "web").ModuleParameter("serviceName"));
        foreach (var (module, inner) in new[] { ("api", "api-functionapp"), ("web", "web-staticwebapp") })
        {
            var tags = ArmTemplate.Text(ArmTemplate.Module(ArmTemplate.Module(main, module).ModuleTemplate, inner).ModuleParameter("tags"));
            Assert.Equal("[union(parameters('tags'), createObject('azd-service-name', parameters('serviceName')))]", tags);
        }

        var web = ArmTemplate.OfType(main, "Microsoft.Web/staticSites").Single();
        Assert.Equal("[parameters('skuName')]", (string?)web.Body["sku"]!["name"]);
        Assert.Equal("Free", (string?)main["parameters"]!["webSkuName"]!["defaultValue"]);
    }

    [Fact]
    public async Task ParametersFile_UsesOnlyAzdSubstitution_ForParametersMainDeclares()
    {
        var main = await BicepCli.MainTemplateAsync();
        var declared = main["parameters"]!.AsObject();
        var file = JsonNode.Parse(RepoFiles.Read("infra", "main.parameters.json"))!["parameters"]!.AsObject();

        foreach (var (name, parameter) in file)
        {
            Assert.True(declared.ContainsKey(name), $"main.parameters.json sets '{name}', which main.bicep does not declare.");
            var value = (string?)parameter!["value"];
            Assert.Matches(@"^\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}$", value);
        }

        foreach (var (name, parameter) in declared)
        {
            if (!parameter!.AsObject().ContainsKey("defaultValue"))
            {
                Assert.True(file.ContainsKey(name), $"required parameter '{name}' is not in main.parameters.json.");
            }
        }

        Assert.Equal("${AZURE_ENV_NAME}", (string?)file["environmentName"]!["value"]);
        Assert.Equal("${AZURE_LOCATION}", (string?)file["location"]!["value"]);
        Assert.Equal("${AZURE_PRINCIPAL_ID}", (string?)file["principalId"]!["value"]);
    }

    [Fact]
    public void Abbreviations_CoverEveryPrefixMainUses()
    {
        var abbreviations = JsonNode.Parse(RepoFiles.Read("infra", "abbreviations.json"))!.AsObject();
        var main = RepoFiles.Read("infra", "main.bicep");

        var used = Regex.Matches(main, @"abbrs\.(\w+)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(used);
        Assert.All(used, key => Assert.True(abbreviations.ContainsKey(key), $"abbreviations.json lacks {key}"));
    }

    /// <summary>
    /// Names CONTRACT.md gives to settings that the resumable-streams, budgets and sign-in work reads. Until that code
    /// is merged no options class here declares them; once it is, the reflection above finds them anyway.
    /// </summary>
    private static readonly HashSet<string> SettingsOfTheSharedContract =
    [
        "CHAT_RESUME_GRACE_SECONDS", "CHAT_RESUME_RETENTION_MINUTES", "CHAT_CLIENT_STALL_TIMEOUT_SECONDS", "CHAT_TOKEN_BUDGET_PER_DAY",
        "CHAT_AUTH_ENABLED", "CHAT_AUTH_TENANT_ID", "CHAT_AUTH_CLIENT_ID",
    ];

    /// <summary>The names in the sign-in settings object api.bicep adds when authEnabled (createObject('NAME', value, ...)).</summary>
    private static List<string> AuthAppSettingNames(JsonObject main)
    {
        var expression = (string?)ArmTemplate.Module(main, "api").ModuleTemplate["variables"]!["authAppSettings"] ?? "";
        return [.. Regex.Matches(expression, @"createObject\((.*?)\)").SelectMany(m => Regex.Matches(m.Groups[1].Value, @"'(CHAT_[A-Z_]+)'")).Select(m => m.Groups[1].Value)];
    }

    private static JsonObject AppSettings(JsonObject main)
    {
        var api = ArmTemplate.Module(main, "api");
        var functionAppModule = ArmTemplate.Module(api.ModuleTemplate, "functionApp");
        Assert.Equal("[union(variables('appSettings'), variables('optionalAppSettings'), variables('authAppSettings'))]", (string?)functionAppModule.ModuleParameter("appSettings"));

        var config = ArmTemplate.Resources(functionAppModule.ModuleTemplate)
            .Single(r => (string?)r.Body["type"] == "Microsoft.Web/sites/config").Body;
        Assert.Equal("[parameters('appSettings')]", (string?)config["properties"]);

        var optional = (string?)api.ModuleTemplate["variables"]!["optionalAppSettings"];
        Assert.Equal("[if(empty(parameters('chatSystemPrompt')), createObject(), createObject('CHAT_SYSTEM_PROMPT', parameters('chatSystemPrompt')))]", optional);

        return api.ModuleTemplate["variables"]!["appSettings"]!.AsObject();
    }

    private static void AssertRoleAssignmentShape(JsonObject assignment, string where)
    {
        Assert.StartsWith("[guid(", (string?)assignment["name"], StringComparison.Ordinal);
        var properties = assignment["properties"]!;
        Assert.True(properties["principalType"] is not null, $"{where}: role assignment without principalType");
        Assert.Contains("principalId", (string?)assignment["name"], StringComparison.Ordinal);
        Assert.Contains("roleDefinitionId", (string?)assignment["name"], StringComparison.Ordinal);
        Assert.StartsWith("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions'", (string?)properties["roleDefinitionId"], StringComparison.Ordinal);
    }

    private static List<string> BicepFiles() =>
        [.. Directory.EnumerateFiles(BicepCli.InfraDirectory, "*.bicep", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(BicepCli.InfraDirectory, f))
            .Order(StringComparer.Ordinal)];
}
