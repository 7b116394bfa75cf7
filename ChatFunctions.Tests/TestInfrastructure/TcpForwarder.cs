using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// A loopback TCP relay in front of a server, so a test can make that server vanish (<see cref="Stop"/>: connections
/// reset, new ones refused) or hang (<see cref="StopAnswering"/>: connections accepted, nothing ever answered)
/// without stopping the real server other tests share.
/// </summary>
public sealed class TcpForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentBag<TcpClient> _connections = [];
    private readonly Task _accepting;
    private volatile bool _answering = true;

    public TcpForwarder(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>As if the server stopped: open connections are reset and new ones refused.</summary>
    public void Stop()
    {
        _stopping.Cancel();
        _listener.Stop();
        ResetConnections();
    }

    /// <summary>As if the server hung: open connections are reset, new ones accepted and never answered.</summary>
    public void StopAnswering()
    {
        _answering = false;
        ResetConnections();
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private void ResetConnections()
    {
        while (_connections.TryTake(out var connection))
        {
            try
            {
                // Linger 0: closing sends a reset, as a server that died would.
                if (connection.Client is { } socket)
                {
                    socket.LingerState = new LingerOption(true, 0);
                }
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // Already closed by the other side.
            }

            connection.Dispose();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _connections.Add(client);
            if (_answering)
            {
                _ = RelayAsync(client);
            }
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var upstream = new TcpClient();
        _connections.Add(upstream);
        try
        {
            await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stopping.Token);
            var down = client.GetStream();
            var up = upstream.GetStream();
            await Task.WhenAny(down.CopyToAsync(up, _stopping.Token), up.CopyToAsync(down, _stopping.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // The test reset it, or either side closed.
        }
        finally
        {
            client.Dispose();
        }
    }
}
