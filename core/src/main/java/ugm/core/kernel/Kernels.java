package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;

/**
 * The element-wise kernels of the merge methods, over float chunks, plus the dtype conversions
 * between mapped tensor bytes and those chunks. Buffers may be longer than {@code n}: only
 * {@code [0, n)} is read or written. Implementations are stateless and thread-safe.
 *
 * <p>{@link #get()} picks one implementation per JVM: the Vector API one when the
 * {@code jdk.incubator.vector} module is readable, else the scalar one. The system property
 * {@code ugm.vector.bits} forces a vector width (64, 128, 256, 512) or the scalar code (0).
 */
public interface Kernels {

    /** What this implementation is, e.g. {@code "scalar"} or {@code "vector-256"}. */
    String name();

    /** n elements of {@code type} (BF16, F16, F32 or F64, little-endian) at byte offset {@code off} of src -> dst[0..n). */
    void decode(DType type, MemorySegment src, long off, float[] dst, int n);

    /** src[0..n) -> {@code type} at byte offset {@code off} of dst. Rounds to nearest even; NaN stays NaN (quiet, with its sign). */
    void encode(float[] src, int n, DType type, MemorySegment dst, long off);

    /** out = sum_t w[t] * x[t] (mergekit {@code linear}; the caller normalises w when asked to). */
    void linear(float[][] x, float[] w, float[] out, int n);

    /** out = base + sum_t a[t] * (x[t] - base) (task arithmetic; the caller negates a for removal). */
    void taskArithmetic(float[] base, float[][] x, float[] a, float[] out, int n);

    /**
     * Gradient matching (docs/method.md, "Gradient matching", and "Removing tasks" when {@code p.remove()}).
     * {@code baseFisher} may be null (then P0 = delta0). Where Hbar is not positive (and, when
     * removing, P0 is not positive either) the element gets the task-arithmetic value.
     *
     * @return the number of elements whose Hbar was clamped or replaced (removal only; else 0)
     */
    long gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher, float[] out, int n);

    /**
     * Gradient matching (not removal) in one pass from the mapped tensors straight into
     * {@code out}, for elements {@code [from, from + n)}: no decode buffers, no separate scans.
     * Tensors are indexed by element from byte 0 of each segment. It serves the common case where
     * every input and the output are {@code type}, BF16 or F32; {@code baseFisher} may be null
     * (then P0 = delta0).
     *
     * <p>Returns false, leaving that range of {@code out} unspecified, where the general path
     * (decode, checks, {@link #gradientMatching}, encode) must do the range instead: {@code type}
     * is neither BF16 nor F32, {@code p.remove()} is set, some input holds a NaN or an infinity
     * (the general path counts them for the report) or some Fisher value has its sign bit set (the
     * general path rejects negatives). Where Hbar is not positive it writes the task-arithmetic
     * value, as the general path does. Where it returns true, {@code out} holds exactly the bits
     * the general path writes.
     */
    boolean gradientMatchingDirect(GradientMatching p, DType type, MemorySegment base, MemorySegment baseFisher,
                                   MemorySegment[] x, MemorySegment[] fisher, MemorySegment out, long from, int n);

    /**
     * Fisher averaging: sum a_t F_t x_t / sum a_t F_t with F_t = max(s_t H_t, floor); where the
     * denominator is 0: sum a_t x_t / sum a_t.
     */
    void fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float[] out, int n);

    /**
     * Fisher averaging with the base as one more model of weight 1:
     * (F0 base + sum a_t F_t x_t) / (F0 + sum a_t F_t), F0 = max(s0 H0, floor) (H0 = 0 when
     * {@code baseFisher} is null); where the denominator is 0: (base + sum a_t x_t) / (1 + sum a_t).
     */
    void fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a, float[] s,
                        float floor, float[] out, int n);

    /** The first index i < n where {@code !(x[i] >= 0)} (negative or NaN; -0.0 passes), or -1. Checks Fishers. */
    int indexOfNegativeOrNaN(float[] x, int n);

    /** How many of x[0..n) are NaN or infinite. Scans the inputs for the merge report's warnings. */
    int countNonFinite(float[] x, int n);

    /** The scalar implementation: the twin every vector kernel is tested against, and bit-identical to it. */
    static Kernels scalar() {
        return KernelSelector.SCALAR;
    }

    /** The implementation selected for this JVM (chosen once, on first use). */
    static Kernels get() {
        return KernelSelector.Holder.SELECTED;
    }
}
