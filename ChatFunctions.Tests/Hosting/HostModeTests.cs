using System.Collections;
using ChatFunctions.Hosting;

namespace ChatFunctions.Tests.Hosting;

public class HostModeTests
{
    private static Hashtable Env(params (string Key, string Value)[] values)
    {
        var env = new Hashtable();
        foreach (var (key, value) in values)
        {
            env[key] = value;
        }

        return env;
    }

    [Fact]
    public void PlainDotnetRun_IsStandalone() =>
        Assert.False(HostMode.IsFunctionsHost([], Env()));

    [Fact]
    public void StandaloneArguments_AreStandalone() =>
        Assert.False(HostMode.IsFunctionsHost(["--urls", "http://127.0.0.1:5000"], Env()));

    [Theory]
    [InlineData("--functions-uri", "http://127.0.0.1:50051/")]
    [InlineData("--functions-worker-id", "abc")]
    [InlineData("--workerId", "abc")]
    public void HostArguments_MeanTheFunctionsHost(string name, string value) =>
        Assert.True(HostMode.IsFunctionsHost(["--host", "127.0.0.1", name, value], Env()));

    [Fact]
    public void TheWorkerRuntimeSetting_MeansTheFunctionsHost() =>
        Assert.True(HostMode.IsFunctionsHost([], Env(("FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated"))));

    [Fact]
    public void ChatHostModeStandalone_WinsOverHostSignals() =>
        Assert.False(HostMode.IsFunctionsHost(["--functions-uri", "http://127.0.0.1:1/"], Env(("CHAT_HOST_MODE", "standalone"), ("FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated"))));

    [Fact]
    public void ChatHostModeFunctions_WinsWithoutHostSignals() =>
        Assert.True(HostMode.IsFunctionsHost([], Env(("CHAT_HOST_MODE", "Functions"))));
}
