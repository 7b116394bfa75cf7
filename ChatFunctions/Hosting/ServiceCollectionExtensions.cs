using Azure.Core;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Configuration;
using ChatFunctions.Conversations;
using ChatFunctions.Diagnostics;
using ChatFunctions.Health;
using ChatFunctions.Http;
using ChatFunctions.Models;
using ChatFunctions.Replies;
using ChatFunctions.Resumption;
using ChatFunctions.Shares;
using ChatFunctions.Storage;
using ChatFunctions.Streaming;
using ChatFunctions.Titles;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Hosting;

public static class ServiceCollectionExtensions
{

    /// <summary>Everything the functions need, registered once for both the Functions host and the standalone host.</summary>
    public static IServiceCollection AddChatFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSettings<ChatServiceOptions>(configuration);
        services.AddSettings<AzureOpenAIOptions>(configuration);
        services.AddSettings<OpenAICompatibleOptions>(configuration);
        services.AddSettings<DemoOptions>(configuration);
        services.AddSettings<ResumeOptions>(configuration);
        services.AddSingleton<IValidateOptions<ChatServiceOptions>, ProviderSettingsValidator>();
        services.AddSingleton<IValidateOptions<ChatServiceOptions>, TrustedProxiesValidator>();
        // No Server banner from our Kestrel: the standalone host's, and the worker's behind the Functions host.
        services.Configure<KestrelServerOptions>(kestrel => kestrel.AddServerHeader = false);
        services.AddLogging(logging => logging.AddPrivacyFilters());

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<IChatStreamObserver, ChatStreamMetrics>();
        services.TryAddSingleton<UpstreamHttpClient>();
        services.TryAddSingleton<TokenCredential>(sp => ChatModelProviderFactory.CreateCredential(sp.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value));
        services.TryAddSingleton(ChatModelProviderFactory.Create);
        // The first reply's path to the model, prepared while the host starts (after a scale from zero).
        services.TryAddSingleton<ModelWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelWarmUp>());
        services.AddHostedService(sp => new StorageSettingsCheck(configuration, sp.GetRequiredService<TokenCredential>()));
        services.TryAddSingleton<IChatRequestReader, ChatRequestReader>();
        services.TryAddSingleton<TitleRequestReader>();
        services.TryAddSingleton<ConversationBodyReader>();
        services.TryAddSingleton<ShareBodyReader>();
        services.TryAddSingleton<IChatStreamer, ChatStreamer>();
        services.TryAddSingleton(StreamLogStoreFactory.Create);
        services.TryAddSingleton<ReplyPersister>();
        services.TryAddSingleton<GraceWatcher>();
        services.TryAddSingleton<ReplyProducer>();
        services.TryAddSingleton<LiveReplies>();
        services.TryAddSingleton<StreamResumer>();
        services.TryAddSingleton<EventStreamDelivery>();
        services.TryAddSingleton<ProblemResponder>();
        services.TryAddSingleton<ClientRateLimiter>();

        // Sign-in and token budgets.
        services.AddSettings<AccessOptions>(configuration);
        services.AddSingleton<IValidateOptions<AccessOptions>, AccessSettingsValidator>();
        services.AddSettings<TokenBudgetOptions>(configuration);
        services.TryAddSingleton<IRequestAuthenticator>(sp => sp.GetRequiredService<IOptions<AccessOptions>>().Value.Enabled
            ? ActivatorUtilities.CreateInstance<EntraIdAuthenticator>(sp)
            : new AnonymousAuthenticator());
        services.TryAddSingleton<TokenBudgetMetrics>();
        services.TryAddSingleton(sp => TokenBudgets.Create(sp, configuration));
        services.TryAddSingleton<OpenReplies>();
        services.TryAddSingleton<SpendGate>();
        services.TryAddSingleton<IReplyService, ReplyService>();
        services.AddReadinessChecks();

        // Generated titles and signed-in users' conversations.
        services.AddSettings<ConversationOptions>(configuration);
        services.TryAddSingleton<TitleService>();
        services.TryAddSingleton(ConversationStoreFactory.Create);
        services.TryAddSingleton<ConversationService>();

        // Shared links: snapshots of signed-in users' conversations that anyone with the link reads.
        services.TryAddSingleton(ShareStoreFactory.Create);
        services.TryAddSingleton<ShareCreationLimiter>();
        services.TryAddSingleton<ShareService>();
        return services;
    }

    private static void AddSettings<TOptions>(this IServiceCollection services, IConfiguration configuration)
        where TOptions : class
    {
        services.AddOptions<TOptions>()
            .Bind(configuration)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>, SettingsValidator<TOptions>>();
    }
}
