package ugm.core.merge;

import java.util.List;
import ugm.core.OutOfRange;
import ugm.core.TensorWarning;

/**
 * What a finished merge did.
 *
 * <p>Immutable.
 *
 * @param clampedElements elements where gradient matching's safeguard clamped Hbar or fell back to
 *                        task arithmetic (a task subtracted: {@code remove}, or a negative weight)
 * @param nonFinite       the warnings, per tensor, in the plan's tensor order: {@link NonFinite}
 *                        (NaN or infinite input values, one entry per tensor and file), then
 *                        {@link OutOfRange} (values computed from finite inputs beyond the range
 *                        of the output dtype, written as infinities), then {@link Undefined} (where
 *                        a method is undefined and took its documented fallback). Each one's
 *                        {@code toString()} is its warning line.
 */
public record MergeReport(int tensors, long bytesRead, long bytesWritten, long nanos, int threads, String kernels,
                          long clampedElements, List<TensorWarning> nonFinite) {

    public MergeReport {
        nonFinite = List.copyOf(nonFinite);
    }

    /** A report without warnings. */
    public MergeReport(int tensors, long bytesRead, long bytesWritten, long nanos, int threads, String kernels,
                       long clampedElements) {
        this(tensors, bytesRead, bytesWritten, nanos, threads, kernels, clampedElements, List.of());
    }

    /** NaN and infinite values found in one input tensor; they pass through to the merged values. */
    public record NonFinite(String tensor, String file, long nan, long infinite) implements TensorWarning {
        /** One warning line, e.g. {@code tensor 'w' in /m/model.safetensors: 3 NaN and 1 infinite input values}. */
        @Override
        public String toString() {
            return "tensor '" + tensor + "' in " + file + ": " + nan + " NaN and " + infinite + " infinite input values";
        }
    }

    /**
     * Where a method's result is undefined for finite inputs and it took its documented fallback
     * instead (model_stock where the task vectors cancel out: those rows keep the base's values).
     *
     * @param message what happened, without the tensor's name
     */
    public record Undefined(String tensor, String message) implements TensorWarning {
        /** One warning line: {@code tensor 'w': } and the message. */
        @Override
        public String toString() {
            return "tensor '" + tensor + "': " + message;
        }
    }

    /** The merge's wall time, in seconds. */
    public double seconds() {
        return nanos / 1e9;
    }

    /** Bytes read plus written per second, in GB/s (10^9). */
    public double gigabytesPerSecond() {
        return nanos == 0 ? 0 : (bytesRead + bytesWritten) / (double) nanos;
    }
}
