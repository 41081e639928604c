package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import ugm.core.DType;

/**
 * Plain loops: the reference twin of {@link VectorKernels}. The static per-element and
 * per-range methods are also the vector implementation's tails, so both give identical bits.
 * Every operation is a single float add, multiply, divide or max (no fused multiply-add), in
 * the same order in both implementations.
 */
public final class ScalarKernels implements Kernels {

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    public String name() {
        return "scalar";
    }

    // ---- conversions ------------------------------------------------------------------------

    static float bf16ToFloat(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    static short floatToF16(float f) {
        short h = Float.floatToFloat16(f);
        return Float.isNaN(f) ? (short) (h | 0x200) : h;
    }

    static void decodeRange(DType type, MemorySegment src, long off, float[] dst, int from, int to) {
        switch (type) {
            case BF16 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = bf16ToFloat(src.get(SHORT_LE, off + 2L * i));
                }
            }
            case F16 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = Float.float16ToFloat(src.get(SHORT_LE, off + 2L * i));
                }
            }
            case F32 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = src.get(FLOAT_LE, off + 4L * i);
                }
            }
            case F64 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = (float) src.get(DOUBLE_LE, off + 8L * i);
                }
            }
            default -> throw unsupported(type);
        }
    }

    static void encodeRange(float[] src, int from, int to, DType type, MemorySegment dst, long off) {
        switch (type) {
            case BF16 -> {
                for (int i = from; i < to; i++) {
                    dst.set(SHORT_LE, off + 2L * i, floatToBf16(src[i]));
                }
            }
            case F16 -> {
                for (int i = from; i < to; i++) {
                    dst.set(SHORT_LE, off + 2L * i, floatToF16(src[i]));
                }
            }
            case F32 -> {
                for (int i = from; i < to; i++) {
                    dst.set(FLOAT_LE, off + 4L * i, src[i]);
                }
            }
            case F64 -> {
                for (int i = from; i < to; i++) {
                    dst.set(DOUBLE_LE, off + 8L * i, src[i]);
                }
            }
            default -> throw unsupported(type);
        }
    }

    static IllegalArgumentException unsupported(DType type) {
        return new IllegalArgumentException("the merge kernels do not convert " + type + " (only BF16, F16, F32, F64)");
    }

    @Override
    public void decode(DType type, MemorySegment src, long off, float[] dst, int n) {
        checkConversion(type, dst, n);
        decodeRange(type, src, off, dst, 0, n);
    }

    @Override
    public void encode(float[] src, int n, DType type, MemorySegment dst, long off) {
        checkConversion(type, src, n);
        encodeRange(src, 0, n, type, dst, off);
    }

    @Override
    public int indexOfNegativeOrNaN(float[] x, int n) {
        checkLength(x, n);
        return indexOfNegativeOrNaN(x, 0, n);
    }

    static int indexOfNegativeOrNaN(float[] x, int from, int n) {
        for (int i = from; i < n; i++) {
            if (!(x[i] >= 0f)) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public int countNonFinite(float[] x, int n) {
        checkLength(x, n);
        return countNonFinite(x, 0, n);
    }

    static int countNonFinite(float[] x, int from, int n) {
        int c = 0;
        for (int i = from; i < n; i++) {
            c += Float.isFinite(x[i]) ? 0 : 1;
        }
        return c;
    }

    static void checkConversion(DType type, float[] buffer, int n) {
        if (!type.isMergeable()) {
            throw unsupported(type);
        }
        Objects.checkFromIndexSize(0, n, buffer.length);
    }

    // ---- argument checks (once per call) ----------------------------------------------------

    static void checkModels(float[][] x, float[] coefficients, int n, float[] out) {
        Objects.checkFromIndexSize(0, n, out.length);
        if (x.length != coefficients.length) {
            throw new IllegalArgumentException(x.length + " models but " + coefficients.length + " coefficients");
        }
        for (float[] xt : x) {
            Objects.checkFromIndexSize(0, n, xt.length);
        }
    }

    static void checkFishers(float[][] fisher, int models, int n) {
        if (fisher.length != models) {
            throw new IllegalArgumentException(models + " models but " + fisher.length + " Fishers");
        }
        for (float[] ft : fisher) {
            Objects.checkFromIndexSize(0, n, ft.length);
        }
    }

    static void checkLength(float[] a, int n) {
        Objects.checkFromIndexSize(0, n, a.length);
    }

    /** sum_t a[t], in index order. */
    static float sum(float[] a) {
        float s = 0f;
        for (float v : a) {
            s += v;
        }
        return s;
    }

    // ---- per-element code, shared with the vector tails ------------------------------------

    static float linearAt(float[][] x, float[] w, int i) {
        float acc = 0f;
        for (int t = 0; t < x.length; t++) {
            acc += w[t] * x[t][i];
        }
        return acc;
    }

    /** b + sum_t (sign * a[t]) * (x[t][i] - b); sign is 1 or -1. */
    static float taskArithmeticAt(float b, float[][] x, float[] a, float sign, int i) {
        float acc = 0f;
        for (int t = 0; t < x.length; t++) {
            acc += (sign * a[t]) * (x[t][i] - b);
        }
        return b + acc;
    }

    /** Writes out[i]; returns 1 when the element's Hbar was clamped or replaced (removal), else 0. */
    static int gradientMatchingAt(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                  float[] out, int i) {
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float sign = p.remove() ? -1f : 1f;
        float b = base[i];
        float p0 = baseFisher == null ? p.delta0() : p.delta0() + baseFisher[i] * p.baseScale();
        float hbar = p0;
        float num = 0f;
        for (int t = 0; t < x.length; t++) {
            float at = sign * alphas[t];
            float sh = fisher[t][i] * scales[t];
            hbar += sh * at;
            num += ((p0 + sh) * at) * (x[t][i] - b);
        }
        int replaced = 0;
        if (p.remove()) {
            if (p0 > 0f) {
                float lim = p0 * p.clampRel();
                if (hbar < lim) {
                    hbar = lim;
                    replaced = 1;
                }
            } else if (hbar <= 0f) {
                out[i] = taskArithmeticAt(b, x, alphas, sign, i);
                return 1;
            }
        } else if (hbar <= 0f) {
            out[i] = taskArithmeticAt(b, x, alphas, sign, i);
            return 0;
        }
        out[i] = b + num / hbar;
        return replaced;
    }

    @Override
    public boolean gradientMatchingDirect(GradientMatching p, DType type, MemorySegment base, MemorySegment baseFisher,
                                          MemorySegment[] x, MemorySegment[] fisher, MemorySegment out, long from, int n) {
        checkDirect(p, x, fisher, from, n);
        return gradientMatchingDirectRange(p, type, base, baseFisher, x, fisher, out, from, from + n);
    }

    static void checkDirect(GradientMatching p, MemorySegment[] x, MemorySegment[] fisher, long from, int n) {
        if (x.length != p.alphas().length || fisher.length != x.length) {
            throw new IllegalArgumentException(x.length + " models, " + fisher.length + " Fishers, " + p.alphas().length + " alphas");
        }
        if (from < 0 || n < 0) {
            throw new IllegalArgumentException("range " + from + " + " + n);
        }
    }

    /**
     * Elements [from, to) of {@link #gradientMatchingDirect}, one at a time: the scalar twin, and
     * the vector implementation's tail. The same float operations in the same order as
     * {@link #gradientMatchingAt}.
     */
    static boolean gradientMatchingDirectRange(GradientMatching p, DType type, MemorySegment base, MemorySegment baseFisher,
                                               MemorySegment[] x, MemorySegment[] fisher, MemorySegment out, long from, long to) {
        if (p.remove() || (type != DType.BF16 && type != DType.F32)) {
            return false;
        }
        boolean bf16 = type == DType.BF16;
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float delta0 = p.delta0();
        float s0 = p.baseScale();
        for (long i = from; i < to; i++) {
            int bBits = floatBits(bf16, base, i);
            int hBits = baseFisher == null ? 0 : floatBits(bf16, baseFisher, i); // none: P0 = delta0 + 0 * s0 = delta0
            int flags = nonFiniteSign(bBits) | nonFiniteSign(hBits) | hBits;
            float b = Float.intBitsToFloat(bBits);
            float p0 = delta0 + Float.intBitsToFloat(hBits) * s0;
            float hbar = p0;
            float num = 0f;
            float ta = 0f;
            for (int t = 0; t < x.length; t++) {
                int fBits = floatBits(bf16, fisher[t], i);
                int xBits = floatBits(bf16, x[t], i);
                flags |= nonFiniteSign(fBits) | fBits | nonFiniteSign(xBits);
                float at = alphas[t];
                float sh = Float.intBitsToFloat(fBits) * scales[t];
                float d = Float.intBitsToFloat(xBits) - b;
                hbar += sh * at;
                num += ((p0 + sh) * at) * d;
                ta += at * d;
            }
            if (flags < 0) {
                return false;
            }
            float theta = hbar <= 0f ? b + ta : b + num / hbar;
            if (bf16) {
                out.set(SHORT_LE, 2 * i, floatToBf16(theta));
            } else {
                out.set(FLOAT_LE, 4 * i, theta);
            }
        }
        return true;
    }

    /** The float bits of element i of a BF16 (widened) or F32 tensor. */
    private static int floatBits(boolean bf16, MemorySegment s, long i) {
        return bf16 ? s.get(SHORT_LE, 2 * i) << 16 : s.get(INT_LE, 4 * i);
    }

    /** Float bits -> an int whose sign bit is set exactly when they are an infinity or a NaN. */
    private static int nonFiniteSign(int bits) {
        return (bits & 0x7F80_0000) + 0x0080_0000;
    }

    static float fisherAt(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float aSum, int i) {
        float num = 0f;
        float den = 0f;
        for (int t = 0; t < x.length; t++) {
            float c = Math.max(fisher[t][i] * s[t], floor) * a[t];
            num += c * x[t][i];
            den += c;
        }
        if (den == 0f) {
            float plain = 0f;
            for (int t = 0; t < x.length; t++) {
                plain += a[t] * x[t][i];
            }
            return plain / aSum;
        }
        return num / den;
    }

    static float fisherWithBaseAt(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a,
                                  float[] s, float floor, float aSum1, int i) {
        float b = base[i];
        float f0 = Math.max(baseFisher == null ? 0f : baseFisher[i] * s0, floor);
        float num = f0 * b;
        float den = f0;
        for (int t = 0; t < x.length; t++) {
            float c = Math.max(fisher[t][i] * s[t], floor) * a[t];
            num += c * x[t][i];
            den += c;
        }
        if (den == 0f) {
            float plain = b;
            for (int t = 0; t < x.length; t++) {
                plain += a[t] * x[t][i];
            }
            return plain / aSum1;
        }
        return num / den;
    }

    // ---- the kernels ----------------------------------------------------------------------------

    @Override
    public void linear(float[][] x, float[] w, float[] out, int n) {
        checkModels(x, w, n, out);
        for (int i = 0; i < n; i++) {
            out[i] = linearAt(x, w, i);
        }
    }

    @Override
    public void taskArithmetic(float[] base, float[][] x, float[] a, float[] out, int n) {
        checkModels(x, a, n, out);
        checkLength(base, n);
        for (int i = 0; i < n; i++) {
            out[i] = taskArithmeticAt(base[i], x, a, 1f, i);
        }
    }

    static void checkGradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                      float[] out, int n) {
        checkModels(x, p.alphas(), n, out);
        checkFishers(fisher, x.length, n);
        checkLength(base, n);
        if (baseFisher != null) {
            checkLength(baseFisher, n);
        }
    }

    @Override
    public long gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                 float[] out, int n) {
        checkGradientMatching(p, base, baseFisher, x, fisher, out, n);
        long replaced = 0;
        for (int i = 0; i < n; i++) {
            replaced += gradientMatchingAt(p, base, baseFisher, x, fisher, out, i);
        }
        return replaced;
    }

    static void checkFisher(float[][] x, float[][] fisher, float[] a, float[] s, float[] out, int n) {
        checkModels(x, a, n, out);
        checkFishers(fisher, x.length, n);
        if (s.length != a.length) {
            throw new IllegalArgumentException(a.length + " weights but " + s.length + " scales");
        }
    }

    @Override
    public void fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float[] out, int n) {
        checkFisher(x, fisher, a, s, out, n);
        float aSum = sum(a);
        for (int i = 0; i < n; i++) {
            out[i] = fisherAt(x, fisher, a, s, floor, aSum, i);
        }
    }

    @Override
    public void fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a,
                               float[] s, float floor, float[] out, int n) {
        checkFisher(x, fisher, a, s, out, n);
        checkLength(base, n);
        if (baseFisher != null) {
            checkLength(baseFisher, n);
        }
        float aSum1 = 1f + sum(a);
        for (int i = 0; i < n; i++) {
            out[i] = fisherWithBaseAt(base, baseFisher, s0, x, fisher, a, s, floor, aSum1, i);
        }
    }
}
