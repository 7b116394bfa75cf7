using ChatFunctions.Hosting;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

if (HostMode.IsFunctionsHost(args, Environment.GetEnvironmentVariables()))
{
    var builder = FunctionsApplication.CreateBuilder(args);
    builder.ConfigureFunctionsWebApplication();
    builder.Services.AddChatFunctions(builder.Configuration);
    builder.Services.AddTelemetry(builder.Configuration, functionsHost: true);
    builder.Build().Run();
}
else
{
    StandaloneHost.Build(args).Run();
}
