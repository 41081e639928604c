package ugm.core.merge;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.Kernels;

/**
 * How one tensor is computed, block by block, once any first pass is done: built by
 * {@link MergeMethod#prepare}, then applied by any worker. Implementations are immutable, so
 * workers share them.
 */
public interface TensorMerge {
    /**
     * Writes elements {@code [from, from + n)} of the output into {@code out[0..n)} from the
     * decoded blocks of the inputs ({@code base}, {@code baseFisher} and {@code fishers} may be
     * unused or null where the method has none).
     *
     * @return how many elements were clamped (gradient matching's removal), else 0
     */
    long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher, float[] out);

    /**
     * Elements {@code [from, from + n)} in one pass from the mapped inputs straight into
     * {@code target}, where a method has such a kernel: when done, what {@link #apply} would have
     * returned for them (how many were clamped); -1 when the general path (decode, {@link #apply},
     * encode) must do the range. The default has none.
     */
    default long direct(Kernels k, DType type, MemorySegment target, long from, int n) {
        return -1;
    }

    /**
     * What the merge report should say about this tensor once it is merged (one line without the
     * tensor's name: where the method is undefined and took its fallback), or null.
     */
    default String warning() {
        return null;
    }

    /** The direct kernel {@link #direct} calls (the executor then offers it the compiled one), or null where it has none. */
    default DirectKernel directKernel() {
        return null;
    }

    /** Whether {@link #direct} can ever return true: whether there is a {@link #directKernel()}. */
    default boolean hasDirect() {
        return directKernel() != null;
    }
}
