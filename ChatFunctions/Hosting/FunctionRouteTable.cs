using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Hosting;

/// <summary>One HTTP-triggered function as the Functions host sees it: name, route, methods, auth level; and how to
/// call it with a request, its route values bound to the parameters of the same names, as the worker binds them.</summary>
public sealed record HttpFunction(
    string Name,
    Type FunctionType,
    string Route,
    IReadOnlyList<string> Methods,
    AuthorizationLevel AuthLevel,
    Func<object, HttpContext, Task> Invoke);

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

                // The worker binds a parameter without a binding attribute from the trigger's metadata by its name,
                // which for an HTTP trigger holds the route values: (HttpRequest, [string routeValue], CancellationToken).
                var routeValues = parameters.Length == 3 ? parameters[1] : null;
                if (parameters.Length is < 2 or > 3 || parameters[0].ParameterType != typeof(HttpRequest)
                    || parameters[^1].ParameterType != typeof(CancellationToken) || method.ReturnType != typeof(Task)
                    || (routeValues is not null && (routeValues.ParameterType != typeof(string)
                        || trigger.Route?.Contains($"{{{routeValues.Name}}}", StringComparison.Ordinal) != true)))
                {
                    throw new InvalidOperationException(
                        $"{type.Name}.{method.Name} must be 'Task {method.Name}(HttpRequest, [string <route value>,] CancellationToken)', its string named as in the route, to run on both hosts.");
                }

                functions.Add(new HttpFunction(
                    function.Name,
                    type,
                    trigger.Route ?? function.Name,
                    trigger.Methods?.Select(m => m.ToUpperInvariant()).ToArray() ?? ["GET", "POST"],
                    trigger.AuthLevel,
                    CreateInvoker(type, method, routeValues?.Name)));
            }
        }

        return functions;
    }

    /// <summary>
    /// A typed open-instance delegate over the method, not a compiled expression: Expression.Compile emits and JITs IL
    /// at start-up (tens of milliseconds of a cold start), while this closes over code ReadyToRun already compiled.
    /// </summary>
    private static Func<object, HttpContext, Task> CreateInvoker(Type type, MethodInfo method, string? routeValue) =>
        typeof(FunctionRouteTable)
            .GetMethod(nameof(Invoker), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type)
            .CreateDelegate<Func<MethodInfo, string?, Func<object, HttpContext, Task>>>()(method, routeValue);

    private static Func<object, HttpContext, Task> Invoker<TFunction>(MethodInfo method, string? routeValue)
        where TFunction : class
    {
        if (routeValue is null)
        {
            var call = method.CreateDelegate<Func<TFunction, HttpRequest, CancellationToken, Task>>();
            return (instance, context) => call((TFunction)instance, context.Request, context.RequestAborted);
        }

        var callWithValue = method.CreateDelegate<Func<TFunction, HttpRequest, string, CancellationToken, Task>>();
        return (instance, context) => callWithValue(
            (TFunction)instance, context.Request, context.Request.RouteValues[routeValue] as string ?? "", context.RequestAborted);
    }
}
