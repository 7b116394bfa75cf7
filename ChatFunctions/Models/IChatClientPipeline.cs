using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>Cross-cutting middleware around the model client (telemetry), from Microsoft.Extensions.AI.</summary>
public interface IChatClientPipeline
{
    IChatClient Build(IChatClient inner, IServiceProvider services);
}
