using System.Net.Sockets;

namespace ChatFunctions.Storage;

public static class StorageFailures
{
    /// <summary>
    /// What Azure.Core lets through besides <see cref="Azure.RequestFailedException"/> when the store cannot be
    /// reached: its retry policy's AggregateException of all attempts, a per-try timeout or a deadline as
    /// cancellation, and raw socket or stream errors mid-body.
    /// </summary>
    public static bool IsTransport(Exception failure) =>
        failure is AggregateException or OperationCanceledException or HttpRequestException or IOException or SocketException;
}
