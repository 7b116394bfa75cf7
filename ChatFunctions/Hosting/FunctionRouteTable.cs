using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Hosting;

/// <summary>One HTTP-triggered function as the Functions host sees it: name, route, methods, auth level.</summary>
public sealed record HttpFunction(
    string Name,
    Type FunctionType,
    string Route,
    IReadOnlyList<string> Methods,
    AuthorizationLevel AuthLevel,
    Func<object, HttpRequest, CancellationToken, Task> Invoke);

/// <summary>
/// Reads the [Function]/[HttpTrigger] attributes, the same metadata the Functions host indexes, so the standalone
/// host serves exactly the routes a deployment serves without a second list of them.
/// </summary>
public static class FunctionRouteTable
{
    public static IReadOnlyList<HttpFunction> Discover(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var functions = new List<HttpFunction>();
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            {
                if (method.GetCustomAttribute<FunctionAttribute>() is not { } function)
                {
                    continue;
                }

                var parameters = method.GetParameters();
                var trigger = parameters.Length > 0 ? parameters[0].GetCustomAttribute<HttpTriggerAttribute>() : null;
                if (trigger is null)
                {
                    continue;
                }

                if (parameters.Length != 2 || parameters[0].ParameterType != typeof(HttpRequest)
                    || parameters[1].ParameterType != typeof(CancellationToken) || method.ReturnType != typeof(Task))
                {
                    throw new InvalidOperationException(
                        $"{type.Name}.{method.Name} must be 'Task {method.Name}(HttpRequest, CancellationToken)' to run on both hosts.");
                }

                functions.Add(new HttpFunction(
                    function.Name,
                    type,
                    trigger.Route ?? function.Name,
                    trigger.Methods?.Select(m => m.ToUpperInvariant()).ToArray() ?? ["GET", "POST"],
                    trigger.AuthLevel,
                    CreateInvoker(type, method)));
            }
        }

        return functions;
    }

    /// <summary>
    /// A typed open-instance delegate over the method, not a compiled expression: Expression.Compile emits and JITs IL
    /// at start-up (tens of milliseconds of a cold start), while this closes over code ReadyToRun already compiled.
    /// </summary>
    private static Func<object, HttpRequest, CancellationToken, Task> CreateInvoker(Type type, MethodInfo method) =>
        typeof(FunctionRouteTable)
            .GetMethod(nameof(Invoker), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type)
            .CreateDelegate<Func<MethodInfo, Func<object, HttpRequest, CancellationToken, Task>>>()(method);

    private static Func<object, HttpRequest, CancellationToken, Task> Invoker<TFunction>(MethodInfo method)
        where TFunction : class
    {
        var call = method.CreateDelegate<Func<TFunction, HttpRequest, CancellationToken, Task>>();
        return (instance, request, cancellationToken) => call((TFunction)instance, request, cancellationToken);
    }
}
