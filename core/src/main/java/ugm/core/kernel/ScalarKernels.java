package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;

/**
 * Plain loops over {@link Formulas} and {@link Codecs}: the scalar twin every vector kernel is
 * tested against. Its static range methods are also the vector kernels' tails, so both give
 * identical bits. One instance ({@link #INSTANCE}), behind {@link Kernels#scalar()}.
 */
final class ScalarKernels implements KernelSupport {

    static final ScalarKernels INSTANCE = new ScalarKernels();

    /** Elements of each input the scalar direct kernel decodes at a time. */
    private static final int DIRECT_BLOCK = 64;

    private ScalarKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public int warmUpStep() {
        return 1;
    }

    // ---- conversions and checks ---------------------------------------------------------------

    @Override
    public void decode(DType type, MemorySegment src, long off, float[] dst, int n) {
        Codecs.decode(type, src, off, dst, 0, n);
    }

    @Override
    public void encode(float[] src, int n, DType type, MemorySegment dst, long off) {
        Codecs.encode(src, 0, n, type, dst, off);
    }

    @Override
    public int indexOfNegativeOrNaN(float[] x, int n) {
        return indexOfNegativeOrNaN(x, 0, n);
    }

    /** The first index in [from, n) failing the Fisher check, or -1. */
    static int indexOfNegativeOrNaN(float[] x, int from, int n) {
        for (int i = from; i < n; i++) {
            if (Formulas.isNegativeOrNaN(x[i])) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public int countNonFinite(float[] x, int n) {
        return countNonFinite(x, 0, n);
    }

    /** How many of x[from, n) are NaN or infinite. */
    static int countNonFinite(float[] x, int from, int n) {
        int c = 0;
        for (int i = from; i < n; i++) {
            c += Formulas.isNonFinite(x[i]) ? 1 : 0;
        }
        return c;
    }

    @Override
    public int countNonFiniteAs(DType type, float[] x, int n) {
        return countBeyond(x, 0, n, Codecs.largestEncodable(type));
    }

    /** How many of x[from, n) are NaN or larger than {@code limit} in magnitude. */
    static int countBeyond(float[] x, int from, int n, float limit) {
        int c = 0;
        for (int i = from; i < n; i++) {
            c += Math.abs(x[i]) <= limit ? 0 : 1;
        }
        return c;
    }

    // ---- the kernels ----------------------------------------------------------------------------

    @Override
    public void linear(float[][] x, float[] w, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = Formulas.linear(x, w, i);
        }
    }

    @Override
    public void taskArithmetic(float[] base, float[][] x, float[] a, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = Formulas.taskArithmetic(base[i], x, a, 1f, i);
        }
    }

    @Override
    public void taskVectors(TaskVectors p, float[] base, float[][] x, boolean[][] kept, float[] out, int n) {
        taskVectors(p, base, x, kept, out, 0, n);
    }

    /** {@link #taskVectors} on elements [from, to): the vector kernels' tail and their fallback. */
    static void taskVectors(TaskVectors p, float[] base, float[][] x, boolean[][] kept, float[] out, int from, int to) {
        double[] w = Scratch.doubles(x.length);
        for (int i = from; i < to; i++) {
            out[i] = Formulas.taskVectors(p, base[i], x, kept, i, w);
        }
    }

    @Override
    public long gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                 float[] out, int n) {
        long replaced = 0;
        for (int i = 0; i < n; i++) {
            replaced += Formulas.gradientMatching(p, base, baseFisher, x, fisher, out, i);
        }
        return replaced;
    }

    @Override
    public void fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float[] out, int n) {
        float aSum = Formulas.sum(a);
        for (int i = 0; i < n; i++) {
            out[i] = Formulas.fisher(x, fisher, a, s, floor, aSum, i);
        }
    }

    @Override
    public void fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a,
                               float[] s, float floor, float[] out, int n) {
        float aSum1 = 1f + Formulas.sum(a);
        for (int i = 0; i < n; i++) {
            out[i] = Formulas.fisherWithBase(base, baseFisher, s0, x, fisher, a, s, floor, aSum1, i);
        }
    }

    // ---- gradient matching from the mapped tensors ----------------------------------------------

    @Override
    public long gradientMatchingDirect(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x,
                                       Kernels.Operand[] fisher, Kernels.Operand out, long from, int n) {
        return gradientMatchingDirectRange(p, base, baseFisher, x, fisher, out, from, from + n);
    }

    /**
     * Elements [from, to) of {@link Kernels#gradientMatchingDirect} (operands of BF16, F16 or F32):
     * the scalar twin, and the vector kernels' tail. Reads a block of every input, refuses the
     * range (returns -1) where a value is an infinity or a NaN or a Fisher value has its sign bit
     * set; computes the float formula of {@link Formulas#gradientMatching} (with the removal
     * safeguard where {@link GradientMatching#safeguard()}), refuses the range where it overflowed
     * (Hbar or theta not finite, or a clamp limit below the smallest normal float: the general path
     * takes the careful twin there) or a result is beyond the output dtype's range (the general path
     * counts it), else rounds into {@code out} and returns how many elements the safeguard clamped
     * or replaced. Without a base Fisher, P0 = delta0, as in the vector lanes.
     */
    static long gradientMatchingDirectRange(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher,
                                               Kernels.Operand[] x, Kernels.Operand[] fisher, Kernels.Operand out,
                                               long from, long to) {
        if (from >= to) {
            return 0;
        }
        int models = x.length;
        int block = (int) Math.min(DIRECT_BLOCK, to - from);
        long replaced = 0;
        float[] b = new float[block];
        float[] h0 = baseFisher == null ? null : new float[block];
        float[][] xs = new float[models][block];
        float[][] hs = new float[models][block];
        float[] theta = new float[block];
        float limit = Codecs.largestEncodable(out.type());
        for (long at = from; at < to; at += block) {
            int n = (int) Math.min(block, to - at);
            int flags = load(base, at, n, b, false);
            if (baseFisher != null) {
                flags |= load(baseFisher, at, n, h0, true);
            }
            for (int t = 0; t < models; t++) {
                flags |= load(fisher[t], at, n, hs[t], true) | load(x[t], at, n, xs[t], false);
            }
            if (flags < 0) {
                return -1;
            }
            for (int j = 0; j < n; j++) {
                int f = Formulas.floatGradientMatching(p, b, h0, xs, hs, theta, j, null);
                flags |= f;
                replaced += f & 1;
            }
            if (flags < 0 || countBeyond(theta, 0, n, limit) > 0) {
                return -1;
            }
            Codecs.encode(theta, 0, n, out.type(), out.data(), at * out.type().byteWidth());
        }
        return replaced;
    }

    @Override
    public boolean linearDirect(Kernels.Operand base, Kernels.Operand[] x, float[] w, Kernels.Operand out, long from, int n) {
        return linearDirectRange(base, x, w, out, from, from + n);
    }

    /**
     * Elements [from, to) of {@link Kernels#linearDirect} ({@code base} null) and
     * {@link Kernels#taskArithmeticDirect} (operands of BF16, F16 or F32): the scalar twin, and the
     * vector kernels' tail. Reads a block of every input, refuses the range where some value is
     * NaN or infinite (the general path counts them), else computes the float formula
     * ({@link Formulas#linearFloat}, {@link Formulas#taskArithmeticFloat}) and refuses the range
     * where a result is not finite (the float arithmetic overflowed: the general path computes it
     * in double) or beyond the output dtype's range (the general path counts it); else rounds into
     * {@code out}. Where it accepts, the float formula is the general path's value: with finite
     * inputs its careful twin steps in only where the float result is not finite.
     */
    static boolean linearDirectRange(Kernels.Operand base, Kernels.Operand[] x, float[] w, Kernels.Operand out, long from, long to) {
        if (from >= to) {
            return true;
        }
        int models = x.length;
        int block = (int) Math.min(DIRECT_BLOCK, to - from);
        float[] b = base == null ? null : new float[block];
        float[][] xs = new float[models][block];
        float[] theta = new float[block];
        float limit = Codecs.largestEncodable(out.type());
        for (long at = from; at < to; at += block) {
            int n = (int) Math.min(block, to - at);
            int flags = base == null ? 0 : load(base, at, n, b, false);
            for (int t = 0; t < models; t++) {
                flags |= load(x[t], at, n, xs[t], false);
            }
            if (flags < 0) {
                return false;
            }
            for (int j = 0; j < n; j++) {
                theta[j] = base == null ? Formulas.linearFloat(xs, w, j) : Formulas.taskArithmeticFloat(b[j], xs, w, j);
            }
            if (countBeyond(theta, 0, n, limit) > 0) {
                return false;
            }
            Codecs.encode(theta, 0, n, out.type(), out.data(), at * out.type().byteWidth());
        }
        return true;
    }

    /**
     * The constant that, added to a float's bits masked to the exponent ({@code bits & 0x7F80_0000}),
     * sets the sign bit exactly when the biased exponent is at least {@code exponent} (1 to 255; 0
     * sets it always).
     */
    static int big(int exponent) {
        return Integer.MIN_VALUE - (exponent << 23);
    }

    /**
     * Elements [at, at + n) of a BF16, F16 or F32 tensor -> dst[0, n). Returns an int whose sign
     * bit is set where some value is an infinity or a NaN, or (a Fisher) has its sign bit set.
     */
    private static int load(Kernels.Operand in, long at, int n, float[] dst, boolean fisher) {
        int big = big(255);
        int flags = 0;
        for (int j = 0; j < n; j++) {
            int bits = Codecs.floatBits(in.type(), in.data(), at + j);
            flags |= ((bits & 0x7F80_0000) + big) | (fisher ? bits : 0);
            dst[j] = Float.intBitsToFloat(bits);
        }
        return flags;
    }
}
