using System.Linq.Expressions;
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
                    CompileInvoker(type, method)));
            }
        }

        return functions;
    }

    private static Func<object, HttpRequest, CancellationToken, Task> CompileInvoker(Type type, MethodInfo method)
    {
        var instance = Expression.Parameter(typeof(object), "instance");
        var request = Expression.Parameter(typeof(HttpRequest), "request");
        var token = Expression.Parameter(typeof(CancellationToken), "cancellationToken");
        var call = Expression.Call(Expression.Convert(instance, type), method, request, token);
        return Expression.Lambda<Func<object, HttpRequest, CancellationToken, Task>>(call, instance, request, token).Compile();
    }
}
