using ChatFunctions.Chat;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ChatFunctions.Http;

/// <summary>Reads a JSON body (application/json or a +json type) of at most a limit, refused without buffering more;
/// the readers of each use case give the limit and the words of their refusals.</summary>
public static class JsonBody
{
    public static async Task<(byte[]? Json, Refusal? Rejection)> ReadAsync(
        HttpRequest request, int maxBytes, string notJsonDetail, string tooLargeDetail, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IsJson(request.ContentType))
        {
            return (null, new Refusal(RefusalKind.UnsupportedFormat, "content-type", notJsonDetail));
        }

        var body = await BoundedBody.ReadAsync(request.Body, request.ContentLength, maxBytes, cancellationToken);
        if ((body.TooLarge ? new Refusal(RefusalKind.TooLarge, "body", tooLargeDetail) : body.Unreadable) is { } badBody)
        {
            return (null, badBody);
        }

        return (body.Bytes, null);
    }

    public static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Value is { } type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)));
}
