package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.function.Consumer;
import ugm.core.DType;

/**
 * The element-wise kernels of the merge methods, over float chunks, plus the dtype conversions
 * between mapped tensor bytes and those chunks. Buffers may be longer than {@code n}: only
 * {@code [0, n)} is read or written. Instances are immutable and thread-safe.
 *
 * <p>This class is the facade: it checks each call's arguments once and hands the call to one of
 * two implementations, the scalar loops over {@link Formulas} ({@link #scalar()}, one instance per
 * JVM) or the Vector API kernels at one width ({@link #get()}, {@link #select}). Both give the
 * same bits for every input; which one runs only changes the speed. {@link KernelPolicy} says when
 * a run uses which.
 */
public final class Kernels {

    /** System property read by {@link #get()}: 0 for the scalar kernels, or 64, 128, 256, 512 to force a vector width. */
    public static final String BITS_PROPERTY = "ugm.vector.bits";

    private static final Kernels SCALAR = new Kernels(ScalarKernels.INSTANCE);

    final KernelSupport impl;

    Kernels(KernelSupport impl) {
        this.impl = impl;
    }

    /** The scalar implementation: the twin every vector kernel is tested against, and bit-identical to it. One instance. */
    public static Kernels scalar() {
        return SCALAR;
    }

    /**
     * The default kernels of this JVM, chosen once, on first use, from the system property
     * {@value #BITS_PROPERTY} as {@link #select} does; what cannot be met as asked is logged
     * (System.Logger {@code ugm.core.kernel}, level WARNING).
     */
    public static Kernels get() {
        return KernelSelector.Default.KERNELS;
    }

    /**
     * The kernels for a value of {@value #BITS_PROPERTY} (null or blank: the widest vectors this
     * CPU runs, when they are at least 128 bits wide and the {@code jdk.incubator.vector} module is
     * readable; else the scalar ones). {@code log} receives at most one line, when the request
     * cannot be met as asked.
     */
    public static Kernels select(String bits, Consumer<String> log) {
        return KernelSelector.select(bits, log);
    }

    /** What this implementation is, e.g. {@code "scalar"} or {@code "vector-256"}. */
    public String name() {
        return impl.name();
    }

    /** Whether these are the scalar kernels (then they are {@link #scalar()}). */
    public boolean isScalar() {
        return this == SCALAR;
    }

    @Override
    public String toString() {
        return name();
    }

    // ---- conversions ------------------------------------------------------------------------

    /** n elements of {@code type} (BF16, F16, F32 or F64, little-endian) at byte offset {@code off} of src -> dst[0..n). */
    public void decode(DType type, MemorySegment src, long off, float[] dst, int n) {
        checkConversion(type, dst, n);
        impl.decode(type, src, off, dst, n);
    }

    /** src[0..n) -> {@code type} at byte offset {@code off} of dst. Rounds to nearest even; NaN stays NaN (quiet, with its sign). */
    public void encode(float[] src, int n, DType type, MemorySegment dst, long off) {
        checkConversion(type, src, n);
        impl.encode(src, n, type, dst, off);
    }

    // ---- the methods --------------------------------------------------------------------------

    /** out = sum_t w[t] * x[t] (mergekit {@code linear}; the caller normalises w when asked to). {@link Formulas#linear} */
    public void linear(float[][] x, float[] w, float[] out, int n) {
        checkModels(x, w, n, out);
        impl.linear(x, w, out, n);
    }

    /** out = base + sum_t a[t] * (x[t] - base) (task arithmetic; the caller negates a for removal). {@link Formulas#taskArithmetic} */
    public void taskArithmetic(float[] base, float[][] x, float[] a, float[] out, int n) {
        checkModels(x, a, n, out);
        checkLength(base, n);
        impl.taskArithmetic(base, x, a, out, n);
    }

    /**
     * The element pass of the task-vector family (ties, dare_*, breadcrumbs*, della*;
     * docs/mergekit-methods.md), {@link Formulas#taskVectors} on every element: the models'
     * vectors x_t − base, each kept where {@code kept[t]} says (null: everywhere; a first pass
     * chose the survivors), weighted and rescaled, signs elected with {@code p.consensus()},
     * normalised with {@code p.normalize()}, times lambda, added to the base; in double, rounded
     * once to float.
     */
    public void taskVectors(TaskVectors p, float[] base, float[][] x, boolean[][] kept, float[] out, int n) {
        checkModels(x, p.weights(), n, out);
        checkLength(base, n);
        if (kept.length != x.length) {
            throw new IllegalArgumentException(x.length + " models but " + kept.length + " masks");
        }
        for (boolean[] k : kept) {
            if (k != null) {
                Objects.checkFromIndexSize(0, n, k.length);
            }
        }
        impl.taskVectors(p, base, x, kept, out, n);
    }

    /**
     * Gradient matching (docs/method.md, "Gradient matching", and "Removing tasks" where a task is subtracted):
     * {@link Formulas#gradientMatching} on every element. {@code baseFisher} may be null (then
     * P0 = delta0). Where Hbar is not positive (and, under {@link GradientMatching#safeguard()}, the
     * kept precision is not positive either) the element gets the task-arithmetic value.
     *
     * @return the number of elements whose Hbar was clamped or replaced (where a task is subtracted; else 0)
     */
    public long gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                 float[] out, int n) {
        checkModels(x, p.alphas(), n, out);
        checkFishers(fisher, x.length, n);
        checkLength(base, n);
        if (baseFisher != null) {
            checkLength(baseFisher, n);
        }
        return impl.gradientMatching(p, base, baseFisher, x, fisher, out, n);
    }

    /**
     * A tensor a direct kernel reads or writes: its mapping (element 0 at byte 0) and its dtype.
     * The direct kernels ({@link #gradientMatchingDirect}, {@link #linearDirect},
     * {@link #taskArithmeticDirect}) take BF16, F16 and F32, each operand in its own.
     */
    public record Operand(MemorySegment data, DType type) {
        public Operand {
            Objects.requireNonNull(data, "data");
            Objects.requireNonNull(type, "type");
        }

        /** Whether the direct kernel reads and writes this dtype: BF16, F16 or F32. */
        boolean direct() {
            return type == DType.BF16 || type == DType.F16 || type == DType.F32;
        }
    }

    /**
     * Gradient matching, and its removal rule where a task is subtracted
     * ({@link GradientMatching#safeguard()}), in one pass from the mapped tensors straight into
     * {@code out}, for elements {@code [from, from + n)}: no decode buffers, no separate scans.
     * Each input and the output may be BF16, F16 or F32, each its own (BF16 weights with F32
     * Fishers, say); {@code baseFisher} may be null (then P0 = delta0).
     *
     * <p>Returns how many elements the safeguard clamped or gave the task-arithmetic value (what
     * {@link #gradientMatching} returns for the same elements; 0 without a subtracted task), or
     * -1, leaving that range of {@code out} unspecified, where the general path (decode, checks,
     * {@link #gradientMatching}, encode) must do the range instead: some operand is of another
     * dtype, some input holds a NaN or an infinity (the general path counts them for the report),
     * some Fisher value has its sign bit set (the general path rejects negatives), the float
     * formula overflowed somewhere (Hbar or a result not finite, or a clamp limit below the
     * smallest normal float: the general path computes such elements carefully and counts what the
     * output cannot hold), or some result is beyond the output dtype's range (F16: 65504; the
     * general path counts it). Where Hbar is not positive (and not clamped) it writes the
     * task-arithmetic value, as the general path does. Where it returns a count, {@code out} holds
     * exactly the bits the general path writes.
     */
    public long gradientMatchingDirect(GradientMatching p, Operand base, Operand baseFisher, Operand[] x, Operand[] fisher,
                                       Operand out, long from, int n) {
        if (x.length != p.alphas().length || fisher.length != x.length) {
            throw new IllegalArgumentException(x.length + " models, " + fisher.length + " Fishers, " + p.alphas().length + " alphas");
        }
        if (from < 0 || n < 0) {
            throw new IllegalArgumentException("range " + from + " + " + n);
        }
        if (!base.direct() || baseFisher != null && !baseFisher.direct() || !out.direct()) {
            return -1;
        }
        for (int t = 0; t < x.length; t++) {
            if (!x[t].direct() || !fisher[t].direct()) {
                return -1;
            }
        }
        return impl.gradientMatchingDirect(p, base, baseFisher, x, fisher, out, from, n);
    }

    /**
     * Linear ({@link #linear}: out = sum_t w[t] * x[t]) in one pass from the mapped tensors straight
     * into {@code out}, for elements {@code [from, from + n)}; each model and the output BF16, F16
     * or F32, each its own. Returns false, leaving that range of {@code out} unspecified, where the
     * general path (decode, checks, {@link #linear}, encode) must do the range instead: some
     * operand is of another dtype, some input holds a NaN or an infinity (the general path counts
     * them for the report), the float arithmetic overflowed (the general path computes the element
     * in double), or some result is beyond the output dtype's range (F16: 65504; the general path
     * counts it). Where it returns true, {@code out} holds exactly the bits the general path writes.
     */
    public boolean linearDirect(Operand[] x, float[] w, Operand out, long from, int n) {
        return linearFamilyDirect(null, x, w, out, from, n);
    }

    /**
     * Task arithmetic ({@link #taskArithmetic}: out = base + sum_t a[t] * (x[t] - base); the caller
     * negates a for removal) in one pass from the mapped tensors straight into {@code out}, as
     * {@link #linearDirect} does linear: the base too is BF16, F16 or F32, and is checked as the
     * models are.
     */
    public boolean taskArithmeticDirect(Operand base, Operand[] x, float[] a, Operand out, long from, int n) {
        Objects.requireNonNull(base, "base");
        return linearFamilyDirect(base, x, a, out, from, n);
    }

    private boolean linearFamilyDirect(Operand base, Operand[] x, float[] w, Operand out, long from, int n) {
        if (x.length != w.length) {
            throw new IllegalArgumentException(x.length + " models but " + w.length + " coefficients");
        }
        if (from < 0 || n < 0) {
            throw new IllegalArgumentException("range " + from + " + " + n);
        }
        if (base != null && !base.direct() || !out.direct()) {
            return false;
        }
        for (Operand xt : x) {
            if (!xt.direct()) {
                return false;
            }
        }
        return impl.linearDirect(base, x, w, out, from, n);
    }

    /**
     * Fisher averaging: sum a_t F_t x_t / sum a_t F_t with F_t = max(s_t H_t, floor); where the
     * denominator is 0: sum a_t x_t / sum a_t. {@link Formulas#fisher}
     */
    public void fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float[] out, int n) {
        checkFisher(x, fisher, a, s, out, n);
        impl.fisher(x, fisher, a, s, floor, out, n);
    }

    /**
     * Fisher averaging with the base as one more model of weight 1:
     * (F0 base + sum a_t F_t x_t) / (F0 + sum a_t F_t), F0 = max(s0 H0, floor) (H0 = 0 when
     * {@code baseFisher} is null); where the denominator is 0: (base + sum a_t x_t) / (1 + sum a_t).
     * {@link Formulas#fisherWithBase}
     */
    public void fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a,
                               float[] s, float floor, float[] out, int n) {
        checkFisher(x, fisher, a, s, out, n);
        checkLength(base, n);
        if (baseFisher != null) {
            checkLength(baseFisher, n);
        }
        impl.fisherWithBase(base, baseFisher, s0, x, fisher, a, s, floor, out, n);
    }

    // ---- checks of the data -------------------------------------------------------------------

    /** The first index i &lt; n where {@code !(x[i] >= 0)} (negative or NaN; -0.0 passes), or -1. Checks Fishers. */
    public int indexOfNegativeOrNaN(float[] x, int n) {
        checkLength(x, n);
        return impl.indexOfNegativeOrNaN(x, n);
    }

    /** How many of x[0..n) are NaN or infinite. Scans the inputs for the merge report's warnings. */
    public int countNonFinite(float[] x, int n) {
        checkLength(x, n);
        return impl.countNonFinite(x, n);
    }

    /**
     * How many of x[0..n) are NaN or infinite once encoded as {@code type} (BF16, F16, F32 or F64):
     * the NaN and infinite values, and the finite ones beyond the range of {@code type} (larger
     * in magnitude than {@link #largestEncodable}). Scans outputs for overflow.
     */
    public int countNonFiniteAs(DType type, float[] x, int n) {
        checkConversion(type, x, n);
        return impl.countNonFiniteAs(type, x, n);
    }

    /**
     * The largest float that {@link #encode} writes as a finite value of {@code type} (BF16, F16,
     * F32 or F64): larger magnitudes round to an infinity (F32 and F64: {@code Float.MAX_VALUE}).
     */
    public static float largestEncodable(DType type) {
        if (!type.isMergeable()) {
            throw Codecs.unsupported(type);
        }
        return Codecs.largestEncodable(type);
    }

    // ---- argument checks, once per call -----------------------------------------------------

    private static void checkConversion(DType type, float[] buffer, int n) {
        if (!type.isMergeable()) {
            throw Codecs.unsupported(type);
        }
        Objects.checkFromIndexSize(0, n, buffer.length);
    }

    private static void checkModels(float[][] x, float[] coefficients, int n, float[] out) {
        Objects.checkFromIndexSize(0, n, out.length);
        if (x.length != coefficients.length) {
            throw new IllegalArgumentException(x.length + " models but " + coefficients.length + " coefficients");
        }
        for (float[] xt : x) {
            Objects.checkFromIndexSize(0, n, xt.length);
        }
    }

    private static void checkFishers(float[][] fisher, int models, int n) {
        if (fisher.length != models) {
            throw new IllegalArgumentException(models + " models but " + fisher.length + " Fishers");
        }
        for (float[] ft : fisher) {
            Objects.checkFromIndexSize(0, n, ft.length);
        }
    }

    private static void checkFisher(float[][] x, float[][] fisher, float[] a, float[] s, float[] out, int n) {
        checkModels(x, a, n, out);
        checkFishers(fisher, x.length, n);
        if (s.length != a.length) {
            throw new IllegalArgumentException(a.length + " weights but " + s.length + " scales");
        }
    }

    private static void checkLength(float[] a, int n) {
        Objects.checkFromIndexSize(0, n, a.length);
    }
}
