namespace ChatFunctions.Streaming;

/// <summary>Reads what <see cref="SseFrameWriter"/> wrote: counts frames, finds where one ends, tells the done frame.
/// Every frame ends with <see cref="SseFrameWriter.FrameEnd"/>, which no frame has inside it.</summary>
public static class SseFrameReader
{
    /// <summary>The number of whole frames in <paramref name="frames"/>.</summary>
    public static int CountFrames(ReadOnlySpan<byte> frames) => frames.Count(SseFrameWriter.FrameEnd);

    /// <summary>The offset just after the <paramref name="count"/>th frame of <paramref name="frames"/>, or -1 when
    /// they hold fewer.</summary>
    public static int OffsetAfterFrames(ReadOnlySpan<byte> frames, int count)
    {
        var position = 0;
        for (var frame = 0; frame < count; frame++)
        {
            var end = frames[position..].IndexOf(SseFrameWriter.FrameEnd);
            if (end < 0)
            {
                return -1;
            }

            position += end + SseFrameWriter.FrameEnd.Length;
        }

        return position;
    }

    /// <summary>Whether a frame (its bytes from "id:" to the blank line) is the done frame.</summary>
    public static bool IsDoneFrame(ReadOnlySpan<byte> frame)
    {
        var data = frame.IndexOf("data: "u8);
        return data >= 0 && frame[(data + 6)..].StartsWith("{\"done\":"u8);
    }
}
