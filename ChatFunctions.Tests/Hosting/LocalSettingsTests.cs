using ChatFunctions.Hosting;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Tests.Hosting;

public class LocalSettingsTests
{
    [Fact]
    public void ValuesAreRead_AndRealEnvironmentVariablesWin()
    {
        var path = Path.Combine(Path.GetTempPath(), $"local.settings.{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {
              "IsEncrypted": false,
              "Values": {
                "CHAT_SYSTEM_PROMPT": "from file",
                "DEMO_TOKEN_DELAY_MS": 7,
                "CHATFUNCTIONS_TEST_OVERRIDDEN": "from file",
                "Nested__Key": "nested"
              }
            }
            """);
        Environment.SetEnvironmentVariable("CHATFUNCTIONS_TEST_OVERRIDDEN", "from environment");
        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddLocalSettingsValues(path).Build();

            Assert.Equal("from file", configuration["CHAT_SYSTEM_PROMPT"]);
            Assert.Equal("7", configuration["DEMO_TOKEN_DELAY_MS"]);
            Assert.Equal("nested", configuration["Nested:Key"]);
            Assert.Equal("from environment", configuration["CHATFUNCTIONS_TEST_OVERRIDDEN"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable("CHATFUNCTIONS_TEST_OVERRIDDEN", null);
            File.Delete(path);
        }
    }

    [Fact]
    public void AMissingFile_AddsNothing()
    {
        var builder = new ConfigurationBuilder();
        builder.AddLocalSettingsValues(Path.Combine(Path.GetTempPath(), "does-not-exist.json"));

        Assert.Empty(builder.Sources);
    }
}
