using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// The setting names the app reads, taken by reflection from the options classes in ChatFunctions.Configuration
/// (their [ConfigurationKeyName] attributes), so the infrastructure is checked against the code, not a copied list.
/// Loaded by name, so a rename in the app fails these tests with a message rather than breaking their build.
/// </summary>
internal static class AppSettingNames
{
    public const string ConfigurationNamespace = "ChatFunctions.Configuration";

    public static Assembly AppAssembly { get; } = Assembly.Load("ChatFunctions");

    public static Type OptionsType(string name) =>
        AppAssembly.GetType($"{ConfigurationNamespace}.{name}")
        ?? throw new InvalidOperationException($"{ConfigurationNamespace}.{name} is gone; update the infrastructure tests.");

    /// <summary>Every options class in the namespace, i.e. every type with a [ConfigurationKeyName] property.</summary>
    public static IEnumerable<Type> AllOptionsTypes() =>
        AppAssembly.GetTypes()
            .Where(t => t.Namespace == ConfigurationNamespace && t is { IsClass: true, IsAbstract: false })
            .Where(t => SettingProperties(t).Any());

    public static IEnumerable<(string Name, PropertyInfo Property)> SettingProperties(Type optionsType) =>
        optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Name: p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name, Property: p))
            .Where(x => x.Name is not null)
            .Select(x => (x.Name!, x.Property));

    public static IReadOnlyList<string> Of(Type optionsType) => [.. SettingProperties(optionsType).Select(x => x.Name)];

    public static PropertyInfo Property(string settingName) =>
        AllOptionsTypes().SelectMany(SettingProperties).Where(x => x.Name == settingName).Select(x => x.Property).FirstOrDefault()
        ?? throw new InvalidOperationException($"No options property reads {settingName}.");
}
