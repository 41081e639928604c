package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import ugm.core.DType;

/**
 * The kernels on the incubating Vector API. Load this class only after checking that the
 * {@code jdk.incubator.vector} module is readable (see {@link KernelSelector}).
 *
 * <p>The code is written once; each width is a tiny subclass whose {@code static final}
 * {@link Species} makes the species compile-time constants for the JIT (a species held in an
 * instance field would defeat the intrinsics). Every loop ends in a scalar tail that calls
 * {@link Formulas} (or the range loops of {@link ScalarKernels} and {@link Codecs}), and every lane
 * does the same float operations in the same order as those formulas, so both implementations give
 * identical bits. Arguments arrive checked by {@link Kernels}.
 */
abstract sealed class VectorKernels implements KernelSupport
        permits VectorKernels.W64, VectorKernels.W128, VectorKernels.W256, VectorKernels.W512 {

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * The species of one width: floats and ints of that width, and shorts of half of it (BF16
     * lanes that widen to the float lanes). {@code halfShort} is null at 64 bits, where there is
     * no 32-bit shape; BF16 then converts in scalar code.
     */
    record Species(int bits, VectorSpecies<Float> f, VectorSpecies<Integer> i, VectorSpecies<Short> halfShort) {
        static Species of(int bits) {
            VectorShape shape = VectorShape.forBitSize(bits);
            VectorSpecies<Short> half = bits >= 128 ? VectorSpecies.of(short.class, VectorShape.forBitSize(bits / 2)) : null;
            return new Species(bits, VectorSpecies.of(float.class, shape), VectorSpecies.of(int.class, shape), half);
        }
    }

    static final class W64 extends VectorKernels {
        private static final Species S = Species.of(64);

        @Override
        Species species() {
            return S;
        }
    }

    static final class W128 extends VectorKernels {
        private static final Species S = Species.of(128);

        @Override
        Species species() {
            return S;
        }
    }

    static final class W256 extends VectorKernels {
        private static final Species S = Species.of(256);

        @Override
        Species species() {
            return S;
        }
    }

    static final class W512 extends VectorKernels {
        private static final Species S = Species.of(512);

        @Override
        Species species() {
            return S;
        }
    }

    /** The widest float vector this CPU runs, in bits. */
    static int preferredBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }

    /** The vector kernels of {@code bits} (64, 128, 256 or 512), which must not exceed {@link #preferredBits()}. */
    static VectorKernels of(int bits) {
        if (bits > preferredBits()) {
            throw new IllegalArgumentException(bits + "-bit vectors exceed this CPU's " + preferredBits() + " bits");
        }
        return switch (bits) {
            case 64 -> new W64();
            case 128 -> new W128();
            case 256 -> new W256();
            case 512 -> new W512();
            default -> throw new IllegalArgumentException("no " + bits + "-bit vector kernels (64, 128, 256 or 512)");
        };
    }

    abstract Species species();

    @Override
    public String name() {
        return "vector-" + species().bits();
    }

    @Override
    public int bf16Step() {
        return 2 * species().i().length();
    }

    // ---- conversions ------------------------------------------------------------------------

    @Override
    public void decode(DType type, MemorySegment src, long off, float[] dst, int n) {
        Species sp = species();
        VectorSpecies<Float> fs = sp.f();
        int i = 0;
        switch (type) {
            case BF16 -> {
                VectorSpecies<Short> hs = sp.halfShort();
                if (hs != null) {
                    VectorSpecies<Integer> is = sp.i();
                    for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
                        ShortVector h = ShortVector.fromMemorySegment(hs, src, off + 2L * i, LE);
                        IntVector w = (IntVector) h.castShape(is, 0);
                        w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
                    }
                }
            }
            case F32 -> {
                for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
                    FloatVector.fromMemorySegment(fs, src, off + 4L * i, LE).intoArray(dst, i);
                }
            }
            default -> {
                // F16 and F64: scalar loops (Float.float16ToFloat is an intrinsic)
            }
        }
        Codecs.decode(type, src, off, dst, i, n);
    }

    @Override
    public void encode(float[] src, int n, DType type, MemorySegment dst, long off) {
        Species sp = species();
        VectorSpecies<Float> fs = sp.f();
        int i = 0;
        switch (type) {
            case BF16 -> {
                VectorSpecies<Short> hs = sp.halfShort();
                if (hs != null) {
                    for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
                        IntVector bits = FloatVector.fromArray(fs, src, i).reinterpretAsInts();
                        IntVector upper = bits.lanewise(VectorOperators.LSHR, 16);
                        IntVector rounded = bits.add(0x7FFF).add(upper.and(1)).lanewise(VectorOperators.LSHR, 16);
                        VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
                        IntVector h = rounded.blend(upper.or(0x40), nan);
                        h.castShape(hs, 0).reinterpretAsShorts().intoMemorySegment(dst, off + 2L * i, LE);
                    }
                }
            }
            case F32 -> {
                for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
                    FloatVector.fromArray(fs, src, i).intoMemorySegment(dst, off + 4L * i, LE);
                }
            }
            default -> {
                // F16 and F64: scalar loops
            }
        }
        Codecs.encode(src, i, n, type, dst, off);
    }

    @Override
    public int indexOfNegativeOrNaN(float[] x, int n) {
        VectorSpecies<Float> fs = species().f();
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            VectorMask<Float> ok = FloatVector.fromArray(fs, x, i).compare(VectorOperators.GE, 0f);
            if (!ok.allTrue()) {
                return i + ok.not().firstTrue();
            }
        }
        return ScalarKernels.indexOfNegativeOrNaN(x, i, n);
    }

    @Override
    public int countNonFinite(float[] x, int n) {
        VectorSpecies<Float> fs = species().f();
        int c = 0;
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            VectorMask<Float> finite = FloatVector.fromArray(fs, x, i).test(VectorOperators.IS_FINITE);
            if (!finite.allTrue()) {
                c += finite.not().trueCount();
            }
        }
        return c + ScalarKernels.countNonFinite(x, i, n);
    }

    @Override
    public int countNonFiniteAs(DType type, float[] x, int n) {
        VectorSpecies<Float> fs = species().f();
        float limit = Codecs.largestEncodable(type);
        int c = 0;
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            VectorMask<Float> ok = FloatVector.fromArray(fs, x, i).abs().compare(VectorOperators.LE, limit);
            if (!ok.allTrue()) {
                c += ok.not().trueCount();
            }
        }
        return c + ScalarKernels.countBeyond(x, i, n, limit);
    }

    // ---- the kernels ----------------------------------------------------------------------------

    @Override
    public void linear(float[][] x, float[] w, float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        int models = x.length;
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            FloatVector acc = FloatVector.zero(fs);
            for (int t = 0; t < models; t++) {
                acc = acc.add(FloatVector.fromArray(fs, x[t], i).mul(w[t]));
            }
            acc.intoArray(out, i);
            if (!acc.test(VectorOperators.IS_FINITE).allTrue()) {
                for (int j = i; j < i + fs.length(); j++) {
                    out[j] = Formulas.linear(x, w, j); // the careful twin where finite inputs overflowed
                }
            }
        }
        for (; i < n; i++) {
            out[i] = Formulas.linear(x, w, i);
        }
    }

    @Override
    public void taskArithmetic(float[] base, float[][] x, float[] a, float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            FloatVector b = FloatVector.fromArray(fs, base, i);
            FloatVector theta = taskArithmetic(fs, b, x, a, 1f, i);
            theta.intoArray(out, i);
            if (!theta.test(VectorOperators.IS_FINITE).allTrue()) {
                for (int j = i; j < i + fs.length(); j++) {
                    out[j] = Formulas.taskArithmetic(base[j], x, a, 1f, j); // the careful twin where finite inputs overflowed
                }
            }
        }
        for (; i < n; i++) {
            out[i] = Formulas.taskArithmetic(base[i], x, a, 1f, i);
        }
    }

    private static FloatVector taskArithmetic(VectorSpecies<Float> fs, FloatVector b, float[][] x, float[] a, float sign, int i) {
        FloatVector acc = FloatVector.zero(fs);
        for (int t = 0; t < x.length; t++) {
            acc = acc.add(FloatVector.fromArray(fs, x[t], i).sub(b).mul(sign * a[t]));
        }
        return b.add(acc);
    }

    @Override
    public long gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                 float[] out, int n) {
        return p.safeguard() ? gradientMatchingSubtracting(p, base, baseFisher, x, fisher, out, n)
                : gradientMatchingAdding(p, base, baseFisher, x, fisher, out, n);
    }

    /*
     * Gradient matching comes in two loops: no task subtracted (the common case: F16, mixed
     * dtypes, and the ranges the direct kernel declines) and some task subtracted (removal or a
     * negative weight: the safeguard's kept precision and clamp). The first one's finisher is as
     * small as it ever was, and its overflow check lies outside it (a running max of |Hbar|, and
     * one scan of the output once the loop is done), so that C2 still inlines it: a vector handed
     * to a method that is not inlined is boxed on the heap (measured with the check inside: 1 GB
     * allocated per 64 MiB merge, 1.7x slower).
     */

    /** Gradient matching where no task is subtracted: every a_t >= 0, no clamp. */
    private long gradientMatchingAdding(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                        float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        int lanes = fs.length();
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float delta0 = p.delta0();
        float s0 = p.baseScale();
        int models = x.length;
        FloatVector p0Const = FloatVector.broadcast(fs, delta0);
        FloatVector hbarMax = FloatVector.zero(fs); // the largest |Hbar|: +infinity or NaN where it overflowed
        int i = 0;
        // two vectors per pass over the models: halves the per-model loop overhead, which dominates at T = 1..5
        for (int bound = n - 2 * lanes + 1; i < bound; i += 2 * lanes) {
            int j = i + lanes;
            FloatVector b0 = FloatVector.fromArray(fs, base, i);
            FloatVector b1 = FloatVector.fromArray(fs, base, j);
            FloatVector p00 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, i).mul(s0).add(delta0);
            FloatVector p01 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, j).mul(s0).add(delta0);
            FloatVector hbar0 = p00;
            FloatVector hbar1 = p01;
            FloatVector num0 = FloatVector.zero(fs);
            FloatVector num1 = num0;
            for (int t = 0; t < models; t++) {
                float at = alphas[t];
                float st = scales[t];
                float[] xt = x[t];
                float[] ft = fisher[t];
                FloatVector sh0 = FloatVector.fromArray(fs, ft, i).mul(st);
                FloatVector sh1 = FloatVector.fromArray(fs, ft, j).mul(st);
                hbar0 = hbar0.add(sh0.mul(at));
                hbar1 = hbar1.add(sh1.mul(at));
                num0 = num0.add(p00.add(sh0).mul(at).mul(FloatVector.fromArray(fs, xt, i).sub(b0)));
                num1 = num1.add(p01.add(sh1).mul(at).mul(FloatVector.fromArray(fs, xt, j).sub(b1)));
            }
            hbarMax = hbarMax.max(hbar0.abs()).max(hbar1.abs());
            finishAdding(fs, alphas, b0, hbar0, num0, x, out, i);
            finishAdding(fs, alphas, b1, hbar1, num1, x, out, j);
        }
        for (int bound = fs.loopBound(n); i < bound; i += lanes) {
            FloatVector b = FloatVector.fromArray(fs, base, i);
            FloatVector p0 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, i).mul(s0).add(delta0);
            FloatVector hbar = p0;
            FloatVector num = FloatVector.zero(fs);
            for (int t = 0; t < models; t++) {
                float at = alphas[t];
                FloatVector sh = FloatVector.fromArray(fs, fisher[t], i).mul(scales[t]);
                hbar = hbar.add(sh.mul(at));
                num = num.add(p0.add(sh).mul(at).mul(FloatVector.fromArray(fs, x[t], i).sub(b)));
            }
            hbarMax = hbarMax.max(hbar.abs());
            finishAdding(fs, alphas, b, hbar, num, x, out, i);
        }
        long replaced = 0;
        // where some Hbar or result overflowed (rare), the scalar formula redoes the vector part: it
        // takes the careful twin there and gives every other element the same bits
        if (!(hbarMax.reduceLanes(VectorOperators.MAX) < Float.POSITIVE_INFINITY) || countNonFinite(out, i) > 0) {
            replaced += carefully(p, base, baseFisher, x, fisher, out, 0, i);
        }
        for (; i < n; i++) {
            replaced += Formulas.gradientMatching(p, base, baseFisher, x, fisher, out, i);
        }
        return replaced;
    }

    /** Divides, falls back to task arithmetic where Hbar allows no division, stores. */
    private static void finishAdding(VectorSpecies<Float> fs, float[] alphas, FloatVector b, FloatVector hbar,
                                     FloatVector num, float[][] x, float[] out, int i) {
        VectorMask<Float> fallback = hbar.compare(VectorOperators.LE, 0f);
        FloatVector theta = b.add(num.div(hbar));
        if (fallback.anyTrue()) {
            theta = theta.blend(taskArithmetic(fs, b, x, alphas, 1f, i), fallback);
        }
        theta.intoArray(out, i);
    }

    /** Gradient matching where some task is subtracted: the kept precision, the clamp and its count. */
    private long gradientMatchingSubtracting(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                             float[][] fisher, float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        int lanes = fs.length();
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float sign = p.sign();
        float delta0 = p.delta0();
        float s0 = p.baseScale();
        int models = x.length;
        FloatVector p0Const = FloatVector.broadcast(fs, delta0);
        long replaced = 0;
        int i = 0;
        for (int bound = n - 2 * lanes + 1; i < bound; i += 2 * lanes) {
            int j = i + lanes;
            FloatVector b0 = FloatVector.fromArray(fs, base, i);
            FloatVector b1 = FloatVector.fromArray(fs, base, j);
            FloatVector p00 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, i).mul(s0).add(delta0);
            FloatVector p01 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, j).mul(s0).add(delta0);
            FloatVector hbar0 = p00;
            FloatVector hbar1 = p01;
            FloatVector kept0 = p00;
            FloatVector kept1 = p01;
            FloatVector num0 = FloatVector.zero(fs);
            FloatVector num1 = num0;
            for (int t = 0; t < models; t++) {
                float at = sign * alphas[t];
                float st = scales[t];
                float[] xt = x[t];
                float[] ft = fisher[t];
                FloatVector sh0 = FloatVector.fromArray(fs, ft, i).mul(st);
                FloatVector sh1 = FloatVector.fromArray(fs, ft, j).mul(st);
                FloatVector ash0 = sh0.mul(at);
                FloatVector ash1 = sh1.mul(at);
                hbar0 = hbar0.add(ash0);
                hbar1 = hbar1.add(ash1);
                if (at > 0f) {
                    kept0 = kept0.add(ash0);
                    kept1 = kept1.add(ash1);
                }
                num0 = num0.add(p00.add(sh0).mul(at).mul(FloatVector.fromArray(fs, xt, i).sub(b0)));
                num1 = num1.add(p01.add(sh1).mul(at).mul(FloatVector.fromArray(fs, xt, j).sub(b1)));
            }
            int r0 = finishSubtracting(fs, p, b0, kept0, hbar0, num0, x, out, i);
            int r1 = finishSubtracting(fs, p, b1, kept1, hbar1, num1, x, out, j);
            replaced += r0 >= 0 ? r0 : carefully(p, base, baseFisher, x, fisher, out, i, lanes);
            replaced += r1 >= 0 ? r1 : carefully(p, base, baseFisher, x, fisher, out, j, lanes);
        }
        for (int bound = fs.loopBound(n); i < bound; i += lanes) {
            FloatVector b = FloatVector.fromArray(fs, base, i);
            FloatVector p0 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, i).mul(s0).add(delta0);
            FloatVector hbar = p0;
            FloatVector kept = p0;
            FloatVector num = FloatVector.zero(fs);
            for (int t = 0; t < models; t++) {
                float at = sign * alphas[t];
                FloatVector sh = FloatVector.fromArray(fs, fisher[t], i).mul(scales[t]);
                FloatVector ash = sh.mul(at);
                hbar = hbar.add(ash);
                if (at > 0f) {
                    kept = kept.add(ash);
                }
                num = num.add(p0.add(sh).mul(at).mul(FloatVector.fromArray(fs, x[t], i).sub(b)));
            }
            int r = finishSubtracting(fs, p, b, kept, hbar, num, x, out, i);
            replaced += r >= 0 ? r : carefully(p, base, baseFisher, x, fisher, out, i, lanes);
        }
        for (; i < n; i++) {
            replaced += Formulas.gradientMatching(p, base, baseFisher, x, fisher, out, i);
        }
        return replaced;
    }

    /**
     * Clamps Hbar at clampRel × the kept precision, divides, falls back to task arithmetic where
     * the kept precision is 0 and Hbar is not positive; stores; returns the count, or -1 where
     * some lane's result or Hbar is not finite, or Hbar was clamped to a subnormal limit (a tiny
     * clamp): the caller then redoes the lanes.
     */
    private static int finishSubtracting(VectorSpecies<Float> fs, GradientMatching p, FloatVector b, FloatVector kept,
                                         FloatVector hbar, FloatVector num, float[][] x, float[] out, int i) {
        VectorMask<Float> keptPositive = kept.compare(VectorOperators.GT, 0f);
        FloatVector lim = kept.mul(p.clampRel());
        VectorMask<Float> clamp = keptPositive.and(hbar.compare(VectorOperators.LT, lim));
        hbar = hbar.blend(lim, clamp);
        VectorMask<Float> fallback = keptPositive.not().and(hbar.compare(VectorOperators.LE, 0f));
        FloatVector theta = b.add(num.div(hbar));
        if (fallback.anyTrue()) {
            theta = theta.blend(taskArithmetic(fs, b, x, p.alphas(), p.sign(), i), fallback);
        }
        theta.intoArray(out, i);
        boolean subnormal = clamp.anyTrue() && clamp.and(lim.compare(VectorOperators.LT, Float.MIN_NORMAL)).anyTrue();
        return subnormal || !theta.add(hbar).test(VectorOperators.IS_FINITE).allTrue() ? -1
                : clamp.trueCount() + fallback.trueCount();
    }

    /**
     * Elements [i, i + count) again by {@link Formulas#gradientMatching}, which takes the careful
     * twin where the inputs are finite and the float formula overflowed (the same float operations
     * decide the same way there, and the other elements get the same bits); returns their count.
     */
    private static int carefully(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                 float[] out, int i, int count) {
        int replaced = 0;
        for (int j = i; j < i + count; j++) {
            replaced += Formulas.gradientMatching(p, base, baseFisher, x, fisher, out, j);
        }
        return replaced;
    }

    /*
     * The direct kernels read each input once, as int lanes straight from the mapping. A BF16 int
     * lane holds two elements: the even one in its low half, the odd one in its high half; the
     * loop computes the even and the odd elements as two float vectors (x << 16 and
     * x & 0xFFFF0000) and packs the rounded results back the same way, so no lane ever crosses
     * (no shape conversion). Every check is one integer operation per input on those lanes:
     * (bits & exponent) + big sets a half's sign bit exactly when the half's exponent is at least
     * GradientMatching.directValueExponent() or directFisherExponent() (an infinity or a NaN, or a value so large that the rule's
     * float arithmetic could overflow with these parameters: the general path computes such a
     * range carefully and reports what the output cannot hold), and a Fisher's own sign bit is
     * or-ed in as it is. So guarding against overflow costs the hot loop nothing.
     *
     * Everything is written out in the loop, on purpose: C2 stops inlining our own helper methods
     * past a node budget that Vector API code reaches quickly, and a vector passed to a method
     * that is not inlined is boxed on the heap (measured: 4x slower, and allocating).
     */

    @Override
    public boolean gradientMatchingDirect(GradientMatching p, DType type, MemorySegment base, MemorySegment baseFisher,
                                          MemorySegment[] x, MemorySegment[] fisher, MemorySegment out, long from, int n) {
        long end = from + n;
        long done = switch (type) {
            case BF16 -> directBf16(p, base, baseFisher, x, fisher, out, from, end);
            case F32 -> directF32(p, base, baseFisher, x, fisher, out, from, end);
            default -> -1;
        };
        return done >= 0 && ScalarKernels.gradientMatchingDirectRange(p, type, base, baseFisher, x, fisher, out, done, end);
    }

    /** BF16 elements from .. up to the last whole pair of vectors; returns where it stopped, or -1 to give the range up. */
    private long directBf16(GradientMatching p, MemorySegment base, MemorySegment baseFisher, MemorySegment[] x,
                            MemorySegment[] fisher, MemorySegment out, long from, long end) {
        Species sp = species();
        VectorSpecies<Integer> is = sp.i();
        VectorSpecies<Float> fs = sp.f();
        int step = 2 * is.length(); // elements per iteration (bf16Step)
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float delta0 = p.delta0();
        float s0 = p.baseScale();
        int models = x.length;
        boolean withBaseFisher = baseFisher != null; // without: P0 = 0 * s0 + delta0 = delta0, as the general path
        // (h & exponent) + big sets a half's sign bit exactly when its exponent is at least the direct exponent
        int big = bigHalves(p.directValueExponent());
        int bigH = bigHalves(p.directFisherExponent());
        IntVector flags = IntVector.zero(is);
        long i = from;
        for (; i <= end - step; i += step) {
            long off = 2 * i;
            IntVector wb = IntVector.fromMemorySegment(is, base, off, LE);
            IntVector wh = withBaseFisher ? IntVector.fromMemorySegment(is, baseFisher, off, LE) : IntVector.zero(is);
            IntVector f = wb.and(0x7F80_7F80).add(big).or(wh.and(0x7F80_7F80).add(bigH)).or(wh);
            FloatVector be = wb.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector bo = wb.and(0xFFFF_0000).reinterpretAsFloats();
            FloatVector pe = wh.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(s0).add(delta0);
            FloatVector po = wh.and(0xFFFF_0000).reinterpretAsFloats().mul(s0).add(delta0);
            FloatVector hbarE = pe;
            FloatVector hbarO = po;
            FloatVector numE = FloatVector.zero(fs);
            FloatVector numO = numE;
            FloatVector taE = numE;
            FloatVector taO = numE;
            for (int t = 0; t < models; t++) {
                IntVector wf = IntVector.fromMemorySegment(is, fisher[t], off, LE);
                IntVector wx = IntVector.fromMemorySegment(is, x[t], off, LE);
                f = f.or(wf.and(0x7F80_7F80).add(bigH).or(wf).or(wx.and(0x7F80_7F80).add(big)));
                float at = alphas[t];
                float st = scales[t];
                FloatVector shE = wf.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(st);
                FloatVector shO = wf.and(0xFFFF_0000).reinterpretAsFloats().mul(st);
                FloatVector dE = wx.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().sub(be);
                FloatVector dO = wx.and(0xFFFF_0000).reinterpretAsFloats().sub(bo);
                hbarE = hbarE.add(shE.mul(at));
                hbarO = hbarO.add(shO.mul(at));
                numE = numE.add(pe.add(shE).mul(at).mul(dE));
                numO = numO.add(po.add(shO).mul(at).mul(dO));
                taE = taE.add(dE.mul(at));
                taO = taO.add(dO.mul(at));
            }
            // where Hbar allows no division: task arithmetic (as the general path)
            FloatVector thetaE = be.add(numE.div(hbarE)).blend(be.add(taE), hbarE.compare(VectorOperators.LE, 0f));
            FloatVector thetaO = bo.add(numO.div(hbarO)).blend(bo.add(taO), hbarO.compare(VectorOperators.LE, 0f));
            // round to nearest even into the upper half; NaN stays NaN, quiet (as floatToBf16)
            IntVector e = thetaE.reinterpretAsInts();
            IntVector o = thetaO.reinterpretAsInts();
            e = e.add(e.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF))
                    .blend(e.or(0x40_0000), e.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000));
            o = o.add(o.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF))
                    .blend(o.or(0x40_0000), o.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000));
            flags = flags.or(f);
            e.lanewise(VectorOperators.LSHR, 16).or(o.and(0xFFFF_0000)).intoMemorySegment(out, off, LE);
        }
        boolean clean = flags.and(0x8000_8000).compare(VectorOperators.EQ, 0).allTrue();
        return clean ? i : -1;
    }

    /** F32 elements from .. up to the last whole vector; returns where it stopped, or -1 to give the range up. */
    private long directF32(GradientMatching p, MemorySegment base, MemorySegment baseFisher, MemorySegment[] x,
                           MemorySegment[] fisher, MemorySegment out, long from, long end) {
        Species sp = species();
        VectorSpecies<Integer> is = sp.i();
        VectorSpecies<Float> fs = sp.f();
        int step = is.length();
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float delta0 = p.delta0();
        float s0 = p.baseScale();
        int models = x.length;
        boolean withBaseFisher = baseFisher != null; // without: P0 = 0 * s0 + delta0 = delta0, as the general path
        // (bits & exponent) + big sets the sign bit exactly when the exponent is at least the direct exponent
        int big = ScalarKernels.big(p.directValueExponent());
        int bigH = ScalarKernels.big(p.directFisherExponent());
        IntVector flags = IntVector.zero(is);
        long i = from;
        for (; i <= end - step; i += step) {
            long off = 4 * i;
            IntVector wb = IntVector.fromMemorySegment(is, base, off, LE);
            IntVector wh = withBaseFisher ? IntVector.fromMemorySegment(is, baseFisher, off, LE) : IntVector.zero(is);
            IntVector f = wb.and(0x7F80_0000).add(big).or(wh.and(0x7F80_0000).add(bigH)).or(wh);
            FloatVector b = wb.reinterpretAsFloats();
            FloatVector p0 = wh.reinterpretAsFloats().mul(s0).add(delta0);
            FloatVector hbar = p0;
            FloatVector num = FloatVector.zero(fs);
            FloatVector ta = num;
            for (int t = 0; t < models; t++) {
                IntVector wf = IntVector.fromMemorySegment(is, fisher[t], off, LE);
                IntVector wx = IntVector.fromMemorySegment(is, x[t], off, LE);
                f = f.or(wf.and(0x7F80_0000).add(bigH).or(wf).or(wx.and(0x7F80_0000).add(big)));
                float at = alphas[t];
                FloatVector sh = wf.reinterpretAsFloats().mul(scales[t]);
                FloatVector d = wx.reinterpretAsFloats().sub(b);
                hbar = hbar.add(sh.mul(at));
                num = num.add(p0.add(sh).mul(at).mul(d));
                ta = ta.add(d.mul(at));
            }
            flags = flags.or(f);
            b.add(num.div(hbar)).blend(b.add(ta), hbar.compare(VectorOperators.LE, 0f)).intoMemorySegment(out, off, LE);
        }
        boolean clean = !flags.compare(VectorOperators.LT, 0).anyTrue();
        return clean ? i : -1;
    }

    /** {@link ScalarKernels#big} for each 16-bit half of an int lane holding two BF16 values. */
    private static int bigHalves(int exponent) {
        int half = 0x8000 - (exponent << 7);
        return half | half << 16;
    }

    @Override
    public void fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        float aSum = Formulas.sum(a);
        int models = x.length;
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            FloatVector num = FloatVector.zero(fs);
            FloatVector den = FloatVector.zero(fs);
            for (int t = 0; t < models; t++) {
                FloatVector c = FloatVector.fromArray(fs, fisher[t], i).mul(s[t]).max(floor).mul(a[t]);
                num = num.add(c.mul(FloatVector.fromArray(fs, x[t], i)));
                den = den.add(c);
            }
            FloatVector theta = num.div(den);
            VectorMask<Float> zero = den.compare(VectorOperators.EQ, 0f);
            if (zero.anyTrue()) {
                theta = theta.blend(plainSum(fs, FloatVector.zero(fs), x, a, i).div(aSum), zero);
            }
            theta.intoArray(out, i);
            if (!theta.add(den).test(VectorOperators.IS_FINITE).allTrue()) { // (theta or the denominator not finite)
                for (int j = i; j < i + fs.length(); j++) {
                    out[j] = Formulas.fisher(x, fisher, a, s, floor, aSum, j); // the careful twin where finite inputs overflowed
                }
            }
        }
        for (; i < n; i++) {
            out[i] = Formulas.fisher(x, fisher, a, s, floor, aSum, i);
        }
    }

    /** start + sum_t a[t] * x[t]. */
    private static FloatVector plainSum(VectorSpecies<Float> fs, FloatVector start, float[][] x, float[] a, int i) {
        FloatVector acc = start;
        for (int t = 0; t < x.length; t++) {
            acc = acc.add(FloatVector.fromArray(fs, x[t], i).mul(a[t]));
        }
        return acc;
    }

    @Override
    public void fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a,
                               float[] s, float floor, float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        float aSum1 = 1f + Formulas.sum(a);
        FloatVector f0Const = FloatVector.broadcast(fs, Math.max(0f, floor));
        int models = x.length;
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            FloatVector b = FloatVector.fromArray(fs, base, i);
            FloatVector f0 = baseFisher == null ? f0Const : FloatVector.fromArray(fs, baseFisher, i).mul(s0).max(floor);
            FloatVector num = f0.mul(b);
            FloatVector den = f0;
            for (int t = 0; t < models; t++) {
                FloatVector c = FloatVector.fromArray(fs, fisher[t], i).mul(s[t]).max(floor).mul(a[t]);
                num = num.add(c.mul(FloatVector.fromArray(fs, x[t], i)));
                den = den.add(c);
            }
            FloatVector theta = num.div(den);
            VectorMask<Float> zero = den.compare(VectorOperators.EQ, 0f);
            if (zero.anyTrue()) {
                theta = theta.blend(plainSum(fs, b, x, a, i).div(aSum1), zero);
            }
            theta.intoArray(out, i);
            if (!theta.add(den).test(VectorOperators.IS_FINITE).allTrue()) { // (theta or the denominator not finite)
                for (int j = i; j < i + fs.length(); j++) {
                    // the careful twin where finite inputs overflowed
                    out[j] = Formulas.fisherWithBase(base, baseFisher, s0, x, fisher, a, s, floor, aSum1, j);
                }
            }
        }
        for (; i < n; i++) {
            out[i] = Formulas.fisherWithBase(base, baseFisher, s0, x, fisher, a, s, floor, aSum1, i);
        }
    }
}
