package ugm.core.merge;

import java.util.List;

/**
 * What a finished merge did.
 *
 * @param nonFinite input tensors holding NaN or infinite values, one entry per tensor and file
 */
public record MergeReport(int tensors, long bytesRead, long bytesWritten, long nanos, int threads, String kernels,
                          long clampedElements, List<NonFinite> nonFinite) {

    public MergeReport {
        nonFinite = List.copyOf(nonFinite);
    }

    /** A report without non-finite findings. */
    public MergeReport(int tensors, long bytesRead, long bytesWritten, long nanos, int threads, String kernels,
                       long clampedElements) {
        this(tensors, bytesRead, bytesWritten, nanos, threads, kernels, clampedElements, List.of());
    }

    /** NaN and infinite values found in one input tensor; they pass through to the merged values. */
    public record NonFinite(String tensor, String file, long nan, long infinite) {
        /** One warning line, e.g. {@code tensor 'w' in /m/model.safetensors: 3 NaN and 1 infinite input values}. */
        @Override
        public String toString() {
            return "tensor '" + tensor + "' in " + file + ": " + nan + " NaN and " + infinite + " infinite input values";
        }
    }
    public double seconds() {
        return nanos / 1e9;
    }

    /** Bytes read plus written per second, in GB/s (10^9). */
    public double gigabytesPerSecond() {
        return nanos == 0 ? 0 : (bytesRead + bytesWritten) / (double) nanos;
    }
}
