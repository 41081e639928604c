package ugm.core.merge;

/** What a finished merge did. */
public record MergeReport(int tensors, long bytesRead, long bytesWritten, long nanos, int threads, String kernels,
                          long clampedElements) {

    public double seconds() {
        return nanos / 1e9;
    }

    /** Bytes read plus written per second, in GB/s (10^9). */
    public double gigabytesPerSecond() {
        return nanos == 0 ? 0 : (bytesRead + bytesWritten) / (double) nanos;
    }
}
