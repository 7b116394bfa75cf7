namespace ChatFunctions.Models;

/// <summary>
/// How far the model call of the current reply got, told by the model client to the relay without a frame in the
/// update stream: the moment the model service accepted the request (its response headers arrived) is when a reasoning
/// model starts thinking, and no update marks it. Ambient like <see cref="System.Diagnostics.Activity.Current"/>: the
/// relay sets it around its reads of the model, the model client reports to whatever is set, and a client used
/// without the relay (tests, the benchmark) reports to nobody.
/// </summary>
public sealed class ModelCallProgress
{
    private static readonly AsyncLocal<ModelCallProgress?> CurrentProgress = new();

    private readonly Action _accepted;

    /// <param name="accepted">Called on the model client's flow, between two of the relay's reads of the model.</param>
    public ModelCallProgress(Action accepted)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        _accepted = accepted;
    }

    /// <summary>The progress of the model call on this flow, if the relay is listening.</summary>
    public static ModelCallProgress? Current
    {
        get => CurrentProgress.Value;
        set => CurrentProgress.Value = value;
    }

    /// <summary>The model service accepted the request and has sent no output yet.</summary>
    public void Accepted() => _accepted();
}
