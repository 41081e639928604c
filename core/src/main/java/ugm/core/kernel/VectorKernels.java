package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
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
     * The species of one width: floats, ints and doubles of that width, and shorts and floats of
     * half of it (BF16 lanes that widen to the float lanes; float lanes that widen to the double
     * lanes). The half species are null at 64 bits, where there is no 32-bit shape; BF16 then
     * converts in scalar code, and the kernels in double run their scalar loops.
     */
    record Species(int bits, VectorSpecies<Float> f, VectorSpecies<Integer> i, VectorSpecies<Short> halfShort,
                   VectorSpecies<Double> d, VectorSpecies<Float> halfFloat) {
        static Species of(int bits) {
            VectorShape shape = VectorShape.forBitSize(bits);
            VectorShape half = bits >= 128 ? VectorShape.forBitSize(bits / 2) : null;
            return new Species(bits, VectorSpecies.of(float.class, shape), VectorSpecies.of(int.class, shape),
                    half == null ? null : VectorSpecies.of(short.class, half), VectorSpecies.of(double.class, shape),
                    half == null ? null : VectorSpecies.of(float.class, half));
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
    public int warmUpStep() {
        return 2 * species().i().length(); // (directBf16's iteration; direct's is half of it)
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

    /**
     * The task-vector family in double lanes, as many as half a float vector holds: each model's
     * Δ in float lanes widened to double, its survivors' mask loaded from {@code kept}, the signs
     * elected by mask; {@link Formulas#taskVectors} lane by lane. A group where some Δ is infinite
     * (an input is, or finite ones overflowed) takes the formula itself, as do the tail and the
     * 64-bit width.
     */
    @Override
    public void taskVectors(TaskVectors p, float[] base, float[][] x, boolean[][] kept, float[] out, int n) {
        Species sp = species();
        VectorSpecies<Float> hf = sp.halfFloat();
        if (hf == null) {
            ScalarKernels.taskVectors(p, base, x, kept, out, 0, n);
            return;
        }
        VectorSpecies<Double> ds = sp.d();
        int lanes = ds.length();
        int models = x.length;
        float[] weights = p.weights();
        double[] factors = p.factors();
        boolean consensus = p.consensus();
        boolean normalize = p.normalize();
        double lambda = p.lambda();
        DoubleVector all = DoubleVector.broadcast(ds, p.weightSum());
        double[] w = Scratch.doubles(models * lanes);
        int i = 0;
        group:
        for (int bound = ds.loopBound(n); i < bound; i += lanes) {
            FloatVector b = FloatVector.fromArray(hf, base, i);
            DoubleVector sum = DoubleVector.zero(ds);
            for (int t = 0; t < models; t++) {
                FloatVector d = FloatVector.fromArray(hf, x[t], i).sub(b);
                if (d.abs().compare(VectorOperators.EQ, Float.POSITIVE_INFINITY).anyTrue()) {
                    ScalarKernels.taskVectors(p, base, x, kept, out, i, i + lanes);
                    continue group;
                }
                DoubleVector v = ((DoubleVector) d.convertShape(VectorOperators.F2D, ds, 0)).mul(factors[t]).mul(weights[t]);
                if (kept[t] != null) {
                    v = v.blend(0.0, VectorMask.fromArray(ds, kept[t], i).not());
                }
                v.intoArray(w, t * lanes);
                sum = sum.add(v);
            }
            DoubleVector mixed = sum;
            DoubleVector div = all;
            if (consensus) {
                mixed = DoubleVector.zero(ds);
                div = DoubleVector.zero(ds);
                VectorMask<Double> positive = sum.compare(VectorOperators.GE, 0.0);
                for (int t = 0; t < models; t++) {
                    DoubleVector v = DoubleVector.fromArray(ds, w, t * lanes);
                    VectorMask<Double> agrees = positive.and(v.compare(VectorOperators.GT, 0.0))
                            .or(positive.not().and(v.compare(VectorOperators.LT, 0.0)));
                    mixed = mixed.add(v.blend(0.0, agrees.not()));
                    div = div.add(DoubleVector.broadcast(ds, weights[t]).blend(0.0, agrees.not()));
                }
            }
            if (normalize) {
                VectorMask<Double> tiny = consensus ? div.compare(VectorOperators.EQ, 0.0)
                        : div.abs().compare(VectorOperators.LT, 1e-8);
                mixed = mixed.div(div.blend(1.0, tiny));
            }
            DoubleVector theta = ((DoubleVector) b.convertShape(VectorOperators.F2D, ds, 0)).add(mixed.mul(lambda));
            ((FloatVector) theta.convertShape(VectorOperators.D2F, hf, 0)).intoArray(out, i);
        }
        ScalarKernels.taskVectors(p, base, x, kept, out, i, n);
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
        float[] c = p.fisherWeights();
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
                float ct = c[t];
                float[] xt = x[t];
                float[] ft = fisher[t];
                FloatVector hc0 = FloatVector.fromArray(fs, ft, i).mul(ct);
                FloatVector hc1 = FloatVector.fromArray(fs, ft, j).mul(ct);
                hbar0 = hbar0.add(hc0);
                hbar1 = hbar1.add(hc1);
                num0 = num0.add(p00.mul(at).add(hc0).mul(FloatVector.fromArray(fs, xt, i).sub(b0)));
                num1 = num1.add(p01.mul(at).add(hc1).mul(FloatVector.fromArray(fs, xt, j).sub(b1)));
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
                FloatVector hc = FloatVector.fromArray(fs, fisher[t], i).mul(c[t]);
                hbar = hbar.add(hc);
                num = num.add(p0.mul(alphas[t]).add(hc).mul(FloatVector.fromArray(fs, x[t], i).sub(b)));
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

    /**
     * Gradient matching where some task is subtracted: the kept precision, the clamp and its count.
     * One vector per pass, the finisher written out in the loop: as a method of its own C2 did not
     * inline it, and the vectors handed to it were boxed on the heap (measured: 20 bytes allocated
     * per element, 3.5x slower than adding).
     */
    private long gradientMatchingSubtracting(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                             float[][] fisher, float[] out, int n) {
        VectorSpecies<Float> fs = species().f();
        int lanes = fs.length();
        float[] a = p.signedAlphas();
        float[] c = p.fisherWeights();
        float delta0 = p.delta0();
        float s0 = p.baseScale();
        float clampRel = p.clampRel();
        int models = x.length;
        FloatVector p0Const = FloatVector.broadcast(fs, delta0);
        long replaced = 0;
        int i = 0;
        for (int bound = fs.loopBound(n); i < bound; i += lanes) {
            FloatVector b = FloatVector.fromArray(fs, base, i);
            FloatVector p0 = baseFisher == null ? p0Const : FloatVector.fromArray(fs, baseFisher, i).mul(s0).add(delta0);
            FloatVector hbar = p0;
            FloatVector kept = p0;
            FloatVector num = FloatVector.zero(fs);
            for (int t = 0; t < models; t++) {
                float at = a[t];
                FloatVector hc = FloatVector.fromArray(fs, fisher[t], i).mul(c[t]);
                hbar = hbar.add(hc);
                if (at > 0f) {
                    kept = kept.add(hc);
                }
                num = num.add(p0.mul(at).add(hc).mul(FloatVector.fromArray(fs, x[t], i).sub(b)));
            }
            // Hbar clamped at clampRel × the kept precision where that is positive; else, where Hbar is
            // not positive, the task-arithmetic value
            VectorMask<Float> keptPositive = kept.compare(VectorOperators.GT, 0f);
            FloatVector lim = kept.mul(clampRel);
            VectorMask<Float> clamp = keptPositive.and(hbar.compare(VectorOperators.LT, lim));
            hbar = hbar.blend(lim, clamp);
            VectorMask<Float> fallback = keptPositive.not().and(hbar.compare(VectorOperators.LE, 0f));
            FloatVector theta = b.add(num.div(hbar));
            if (fallback.anyTrue()) {
                FloatVector ta = FloatVector.zero(fs);
                for (int t = 0; t < models; t++) {
                    ta = ta.add(FloatVector.fromArray(fs, x[t], i).sub(b).mul(a[t]));
                }
                theta = theta.blend(b.add(ta), fallback);
            }
            theta.intoArray(out, i);
            // where some lane's result or Hbar is not finite, or Hbar was clamped to a subnormal limit (a
            // tiny clamp), the scalar formula redoes the lanes (with its careful twin)
            boolean subnormal = clamp.anyTrue() && clamp.and(lim.compare(VectorOperators.LT, Float.MIN_NORMAL)).anyTrue();
            replaced += subnormal || !theta.add(hbar).test(VectorOperators.IS_FINITE).allTrue()
                    ? carefully(p, base, baseFisher, x, fisher, out, i, lanes)
                    : clamp.trueCount() + fallback.trueCount();
        }
        for (; i < n; i++) {
            replaced += Formulas.gradientMatching(p, base, baseFisher, x, fisher, out, i);
        }
        return replaced;
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
     * The direct kernel reads each input once, straight from the mapping, one float vector of
     * elements per operand and iteration, each operand by its own dtype (F32 as it is, BF16
     * widened by a shift, F16 by integer operations and, for its subnormals, one exact float
     * subtraction: JDK 25's Vector API has no half-float conversion), and writes the output the
     * same way, computing the float formula of Formulas.gradientMatching lane by lane; where every
     * operand is BF16, directBf16 does the same two vectors at a time from int pairs. It
     * declines a range (the general path then does it, counts and reports) where some input is an
     * infinity or a NaN, a Fisher has its sign bit set, the float formula overflowed (the general
     * path takes the careful twin there) or a result is beyond the output dtype. Most of that needs
     * no test per input: a non-finite input, or an overflow, shows in what the lane computes, and
     * the lane's Hbar, numerator and theta are tested once per vector. An infinite or NaN Fisher (or
     * base Fisher) makes Hbar so, and Hbar never becomes finite again (a sum; NaN where infinities
     * of both signs meet); it may vanish from theta (num/inf = 0), so Hbar itself is tested. A
     * non-finite model value makes its delta so, and the numerator too (its weight times it: an
     * infinity, or 0 · inf = NaN), and, where Hbar allows no division, the task-arithmetic sum
     * instead (the same products with a_t); a non-finite base value makes theta so. A finite
     * overflow is an infinity in Hbar or theta just as the general path sees it (an infinite
     * numerator in a lane that falls back, where the general path uses none, declines needlessly:
     * declining is always allowed). What the lanes cannot see: F16's infinities and NaNs decode to
     * finite floats from 2^16 (F16_SPECIAL_EXPONENT), so each F16 operand gets one exponent test,
     * (bits & exponent) + big setting the sign bit exactly at that exponent; and a Fisher's sign
     * bit, or-ed in as it is. The output's check is as cheap: a result the output dtype cannot
     * hold sets the sign bit of its flag.
     *
     * Everything is written out in the loop, on purpose, the dtype switches too (each one's
     * branch is the same for an operand all through the loop, so they predict perfectly): C2
     * stops inlining our own helper methods past a node budget that Vector API code reaches
     * quickly, and a vector passed to or returned from a method that is not inlined is boxed on
     * the heap (measured with a loader and a storer method: 40 bytes allocated per element, 20x
     * slower). Nor may one method grow much: C1, which compiles it first, gave up on a version
     * that took every dtype two vectors at a time ("out of virtual registers"), and the kernel
     * then stayed in C1's unprofiled tier, without the Vector API's intrinsics: 50x slower.
     */

    @Override
    public long gradientMatchingDirect(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x,
                                       Kernels.Operand[] fisher, Kernels.Operand out, long from, int n) {
        Species sp = species();
        // (removal on BF16 too takes direct: the safeguard in directBf16 made the common kernel's code
        // a third larger and its C2 compilation 40 % longer, which every merge's start waits for)
        boolean bf16 = !p.safeguard() && sp.halfShort() != null && allBf16(base, baseFisher, x, fisher, out);
        // (64 bits: no 16-bit shape to widen from; unless everything is F32 the scalar twin does it all)
        boolean vectors = sp.halfShort() != null || allF32(base, baseFisher, x, fisher, out);
        int step = bf16 ? 2 * sp.i().length() : sp.i().length();
        long stop = vectors ? from + (long) (n / step) * step : from;
        long replaced = stop == from ? 0
                : bf16 ? directBf16(p, base, baseFisher, x, fisher, out, from, stop) : direct(p, base, baseFisher, x, fisher, out, from, stop);
        if (replaced < 0) {
            return -1;
        }
        long tail = ScalarKernels.gradientMatchingDirectRange(p, base, baseFisher, x, fisher, out, stop, from + n);
        return tail < 0 ? -1 : replaced + tail;
    }

    /**
     * {@link #direct} where every operand and the output is BF16 (the common case), two vectors of
     * elements per pass: each operand is read as one int vector, two BF16 elements an int, the even
     * elements' floats being the ints shifted up and the odd ones' the ints masked, and the
     * results are packed back the same way; no lane is widened or narrowed, and each access to a
     * mapping covers twice the elements. The checks are direct's (see the comment above), on the
     * stored pairs: a Fisher's sign is bit 15 or 31. Elements [from, end), a whole number of steps,
     * no task subtracted; returns 0 (nothing clamped), or -1 to give the range up.
     */
    private long directBf16(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x,
                            Kernels.Operand[] fisher, Kernels.Operand out, long from, long end) {
        Species sp = species();
        VectorSpecies<Integer> is = sp.i();
        int step = 2 * is.length();
        float[] alphas = p.alphas();
        float[] c = p.fisherWeights();
        float[] pa = p.priorWeights();
        float s0 = p.baseScale();
        int models = x.length;
        FloatVector p0Const = FloatVector.broadcast(sp.f(), p.delta0());
        int big255 = ScalarKernels.big(255);
        IntVector flags = IntVector.zero(is); // a sign bit set: give the range up
        IntVector halves = IntVector.zero(is); // bit 15 or 31 set (a BF16 Fisher's sign, or a result rounded to the infinity): likewise
        long i = from;
        for (; i <= end - step; i += step) {
            IntVector wb = IntVector.fromMemorySegment(is, base.data(), 2 * i, LE);
            FloatVector b0 = wb.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector b1 = wb.and(0xFFFF_0000).reinterpretAsFloats();
            FloatVector p00 = p0Const;
            FloatVector p01 = p0Const;
            if (baseFisher != null) {
                IntVector wh = IntVector.fromMemorySegment(is, baseFisher.data(), 2 * i, LE);
                halves = halves.or(wh);
                p00 = wh.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(s0).add(p0Const);
                p01 = wh.and(0xFFFF_0000).reinterpretAsFloats().mul(s0).add(p0Const);
            }
            FloatVector hbar0 = p00;
            FloatVector hbar1 = p01;
            FloatVector num0 = FloatVector.zero(sp.f());
            FloatVector num1 = num0;
            for (int t = 0; t < models; t++) {
                IntVector wf = IntVector.fromMemorySegment(is, fisher[t].data(), 2 * i, LE);
                IntVector wx = IntVector.fromMemorySegment(is, x[t].data(), 2 * i, LE);
                halves = halves.or(wf);
                float ct = c[t];
                FloatVector hc0 = wf.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(ct);
                FloatVector hc1 = wf.and(0xFFFF_0000).reinterpretAsFloats().mul(ct);
                hbar0 = hbar0.add(hc0);
                hbar1 = hbar1.add(hc1);
                FloatVector d0 = wx.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().sub(b0);
                FloatVector d1 = wx.and(0xFFFF_0000).reinterpretAsFloats().sub(b1);
                if (baseFisher == null) {
                    num0 = num0.add(hc0.add(pa[t]).mul(d0));
                    num1 = num1.add(hc1.add(pa[t]).mul(d1));
                } else {
                    float at = alphas[t];
                    num0 = num0.add(p00.mul(at).add(hc0).mul(d0));
                    num1 = num1.add(p01.mul(at).add(hc1).mul(d1));
                }
            }
            FloatVector theta0 = b0.add(num0.div(hbar0));
            FloatVector theta1 = b1.add(num1.div(hbar1));
            VectorMask<Float> fallback0 = hbar0.compare(VectorOperators.LE, 0f);
            VectorMask<Float> fallback1 = hbar1.compare(VectorOperators.LE, 0f);
            if (fallback0.or(fallback1).anyTrue()) {
                // where Hbar allows no division: task arithmetic (as the general path), a second pass
                // over the models' values for these vectors only (Hbar is 0 where every Fisher is, with δ0 = 0)
                FloatVector ta0 = FloatVector.zero(sp.f());
                FloatVector ta1 = ta0;
                for (int t = 0; t < models; t++) {
                    IntVector wx = IntVector.fromMemorySegment(is, x[t].data(), 2 * i, LE);
                    ta0 = ta0.add(wx.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().sub(b0).mul(alphas[t]));
                    ta1 = ta1.add(wx.and(0xFFFF_0000).reinterpretAsFloats().sub(b1).mul(alphas[t]));
                }
                theta0 = theta0.blend(b0.add(ta0), fallback0);
                theta1 = theta1.blend(b1.add(ta1), fallback1);
            }
            // Hbar, the numerator and theta finite (as in direct)
            flags = flags.or(theta0.add(hbar0.mul(0f)).add(num0.mul(0f)).reinterpretAsInts().and(0x7F80_0000).add(big255))
                    .or(theta1.add(hbar1.mul(0f)).add(num1.mul(0f)).reinterpretAsInts().and(0x7F80_0000).add(big255));
            // rounded to BF16 (to nearest even), the even results in the low halves and the odd ones in the high
            IntVector e0 = theta0.reinterpretAsInts();
            IntVector e1 = theta1.reinterpretAsInts();
            IntVector r = e0.add(e0.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16)
                    .or(e1.add(e1.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).and(0xFFFF_0000));
            halves = halves.or(r.and(0x7F80_7F80).add(0x0080_0080)); // rounded up to the infinity
            r.intoMemorySegment(out.data(), 2 * i, LE);
        }
        return flags.or(halves).or(halves.lanewise(VectorOperators.LSHL, 16)).compare(VectorOperators.LT, 0).anyTrue() ? -1 : 0;
    }

    /** The biased float exponent of the values F16's infinities and NaNs decode to in the direct kernel: 2^16 to 2^17. */
    private static final int F16_SPECIAL_EXPONENT = 127 + 16;

    /**
     * Elements [from, end), a whole number of vectors (without a 16-bit shape, F32 operands only),
     * with the removal safeguard where a task is subtracted; returns how many elements the
     * safeguard clamped or replaced, or -1 to give the range up.
     */
    private long direct(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x,
                        Kernels.Operand[] fisher, Kernels.Operand out, long from, long end) {
        Species sp = species();
        VectorSpecies<Integer> is = sp.i();
        VectorSpecies<Short> hs = sp.halfShort();
        int step = is.length();
        float[] alphas = p.signedAlphas();
        boolean guard = p.safeguard();
        float clampRel = p.clampRel();
        long replaced = 0;
        float[] c = p.fisherWeights();
        float[] pa = p.priorWeights();
        float s0 = p.baseScale();
        int models = x.length;
        FloatVector p0Const = FloatVector.broadcast(sp.f(), p.delta0());
        // an F16 infinity or NaN decodes to a float from 2^16 (F16_SPECIAL_EXPONENT), beyond every finite F16 value
        int big16 = ScalarKernels.big(F16_SPECIAL_EXPONENT);
        int big255 = ScalarKernels.big(255);
        IntVector flags = IntVector.zero(is);
        long i = from;
        for (; i <= end - step; i += step) {
            // each operand's float bits: F32 as they are; BF16 widened, shifted up; F16 sign-extended and
            // shifted so that exponent and mantissa sit in a float's (the sign, extended, in bit 31), the
            // bits between cleared, the exponent rebiased by an integer add, and a subnormal m·2^-24
            // made as 2^-14·(1 + m/1024) − 2^-14 (exact; no operand is ever subnormal: the FPU takes
            // a slow path on those, measured 2x slower with F16 Fishers near 1e-6)
            MemorySegment sb = base.data();
            IntVector wb = switch (base.type()) {
                case F32 -> IntVector.fromMemorySegment(is, sb, 4 * i, LE);
                case BF16 -> ((IntVector) ShortVector.fromMemorySegment(hs, sb, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                default -> {
                    IntVector w = ((IntVector) ShortVector.fromMemorySegment(hs, sb, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                    IntVector o = w.and(0x0FFF_E000);
                    yield o.add(112 << 23).blend(o.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                            o.compare(VectorOperators.LT, 0x80_0000)).or(w.and(0x8000_0000));
                }
            };
            IntVector f = base.type() == DType.F16 ? wb.and(0x7F80_0000).add(big16) : IntVector.zero(is);
            FloatVector b = wb.reinterpretAsFloats();
            FloatVector p0 = p0Const;
            if (baseFisher != null) {
                MemorySegment sh0 = baseFisher.data();
                IntVector wh = switch (baseFisher.type()) {
                    case F32 -> IntVector.fromMemorySegment(is, sh0, 4 * i, LE);
                    case BF16 -> ((IntVector) ShortVector.fromMemorySegment(hs, sh0, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                    default -> {
                        IntVector w = ((IntVector) ShortVector.fromMemorySegment(hs, sh0, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o = w.and(0x0FFF_E000);
                        yield o.add(112 << 23).blend(o.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o.compare(VectorOperators.LT, 0x80_0000)).or(w.and(0x8000_0000));
                    }
                };
                f = f.or(wh);
                if (baseFisher.type() == DType.F16) {
                    f = f.or(wh.and(0x7F80_0000).add(big16));
                }
                p0 = wh.reinterpretAsFloats().mul(s0).add(p0Const);
            }
            FloatVector hbar = p0;
            FloatVector kept = p0;
            FloatVector num = FloatVector.zero(sp.f());
            for (int t = 0; t < models; t++) {
                DType tf = fisher[t].type();
                DType tx = x[t].type();
                MemorySegment sf = fisher[t].data();
                MemorySegment sx = x[t].data();
                IntVector wf = switch (tf) {
                    case F32 -> IntVector.fromMemorySegment(is, sf, 4 * i, LE);
                    case BF16 -> ((IntVector) ShortVector.fromMemorySegment(hs, sf, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                    default -> {
                        IntVector w = ((IntVector) ShortVector.fromMemorySegment(hs, sf, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o = w.and(0x0FFF_E000);
                        yield o.add(112 << 23).blend(o.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o.compare(VectorOperators.LT, 0x80_0000)).or(w.and(0x8000_0000));
                    }
                };
                IntVector wx = switch (tx) {
                    case F32 -> IntVector.fromMemorySegment(is, sx, 4 * i, LE);
                    case BF16 -> ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                    default -> {
                        IntVector w = ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o = w.and(0x0FFF_E000);
                        yield o.add(112 << 23).blend(o.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o.compare(VectorOperators.LT, 0x80_0000)).or(w.and(0x8000_0000));
                    }
                };
                f = f.or(wf); // a Fisher's sign bit
                if (tf == DType.F16) {
                    f = f.or(wf.and(0x7F80_0000).add(big16));
                }
                if (tx == DType.F16) {
                    f = f.or(wx.and(0x7F80_0000).add(big16));
                }
                FloatVector hc = wf.reinterpretAsFloats().mul(c[t]);
                FloatVector d = wx.reinterpretAsFloats().sub(b);
                hbar = hbar.add(hc);
                if (guard && alphas[t] > 0f) {
                    kept = kept.add(hc);
                }
                num = num.add((baseFisher == null ? hc.add(pa[t]) : p0.mul(alphas[t]).add(hc)).mul(d));
            }
            VectorMask<Float> fallback;
            if (guard) {
                // the removal safeguard, as gradientMatchingSubtracting: Hbar clamped from below at
                // clampRel times the kept precision where that is positive; elsewhere the fallback
                VectorMask<Float> positive = kept.compare(VectorOperators.GT, 0f);
                FloatVector lim = kept.mul(clampRel);
                VectorMask<Float> clamp = hbar.compare(VectorOperators.LT, lim).and(positive);
                if (clamp.and(lim.compare(VectorOperators.LT, Float.MIN_NORMAL)).anyTrue()) {
                    return -1; // a tiny clamp limit, which lost its precision: the general path's careful twin
                }
                hbar = hbar.blend(lim, clamp);
                fallback = hbar.compare(VectorOperators.LE, 0f).andNot(positive);
                replaced += clamp.trueCount() + fallback.trueCount();
            } else {
                fallback = hbar.compare(VectorOperators.LE, 0f);
            }
            FloatVector theta = b.add(num.div(hbar));
            if (fallback.anyTrue()) {
                // where Hbar allows no division: task arithmetic (as the general path); rare, so a second
                // pass over the models' values, for this vector only
                FloatVector ta = FloatVector.zero(sp.f());
                for (int t = 0; t < models; t++) {
                    MemorySegment sx = x[t].data();
                    IntVector wx = switch (x[t].type()) {
                        case F32 -> IntVector.fromMemorySegment(is, sx, 4 * i, LE);
                        case BF16 -> ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                        default -> {
                            IntVector w = ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                            IntVector o = w.and(0x0FFF_E000);
                            yield o.add(112 << 23).blend(o.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                    o.compare(VectorOperators.LT, 0x80_0000)).or(w.and(0x8000_0000));
                        }
                    };
                    ta = ta.add(wx.reinterpretAsFloats().sub(b).mul(alphas[t]));
                }
                theta = theta.blend(b.add(ta), fallback);
            }
            // not finite where an input was (a NaN or an infinity reaches Hbar, the numerator or theta:
            // see the comment above) or where the float formula overflowed (the general path then takes
            // the careful twin); v·0 is 0 for a finite v, else NaN: one test for the three, with no
            // overflow of its own, and an infinite Hbar (theta = b + num/inf = b) is seen too
            f = f.or(theta.add(hbar.mul(0f)).add(num.mul(0f)).reinterpretAsInts().and(0x7F80_0000).add(big255));
            // round to the output's dtype (to nearest even) and store; the flags' sign bit is set where
            // the stored value is not finite (theta not finite, or beyond the dtype's range), and the
            // range is then given up (so a NaN need not be made quiet here)
            IntVector e = theta.reinterpretAsInts();
            MemorySegment so = out.data();
            switch (out.type()) {
                case F32 -> e.intoMemorySegment(so, 4 * i, LE);
                case BF16 -> {
                    IntVector r = e.add(e.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
                    f = f.or(r.and(0x7F80).add(Integer.MIN_VALUE - 0x7F80)); // rounded up to the infinity
                    r.castShape(hs, 0).reinterpretAsShorts().intoMemorySegment(so, 2 * i, LE);
                }
                default -> { // F16
                    IntVector abs = e.and(0x7FFF_FFFF);
                    // from 2^-14 (F16's normals): drop 13 mantissa bits rounding to nearest even, rebias
                    IntVector normal = abs.add(abs.lanewise(VectorOperators.LSHR, 13).and(1).add(0xFFF))
                            .lanewise(VectorOperators.LSHR, 13).sub((127 - 15) << 10);
                    // below: 0.5 + |theta| rounds |theta| to a multiple of 2^-24, F16's subnormal step, in the low bits
                    IntVector tiny = theta.abs().add(0.5f).reinterpretAsInts().sub(0x3F00_0000);
                    IntVector h = normal.blend(tiny, abs.compare(VectorOperators.LT, 0x3880_0000));
                    f = f.or(h.add(Integer.MIN_VALUE - 0x7C00)); // from 0x7C00: an infinity, or beyond
                    h.or(e.lanewise(VectorOperators.LSHR, 16).and(0x8000)).castShape(hs, 0).reinterpretAsShorts()
                            .intoMemorySegment(so, 2 * i, LE);
                }
            }
            flags = flags.or(f);
        }
        return flags.compare(VectorOperators.LT, 0).anyTrue() ? -1 : replaced;
    }

    private static boolean allBf16(Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x, Kernels.Operand[] fisher,
                                   Kernels.Operand out) {
        boolean bf16 = base.type() == DType.BF16 && (baseFisher == null || baseFisher.type() == DType.BF16) && out.type() == DType.BF16;
        for (int t = 0; t < x.length; t++) {
            bf16 &= x[t].type() == DType.BF16 && fisher[t].type() == DType.BF16;
        }
        return bf16;
    }

    private static boolean allF32(Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x, Kernels.Operand[] fisher,
                                  Kernels.Operand out) {
        boolean f32 = base.type() == DType.F32 && (baseFisher == null || baseFisher.type() == DType.F32) && out.type() == DType.F32;
        for (int t = 0; t < x.length; t++) {
            f32 &= x[t].type() == DType.F32 && fisher[t].type() == DType.F32;
        }
        return f32;
    }


    /*
     * Linear and task arithmetic from the mappings: the same reading and writing as the
     * gradient-matching direct kernel, and the same float operations in the same order as
     * Formulas.linearFloat and taskArithmeticFloat, lane by lane.
     *
     * Only the output is checked, and that is enough. The formula is sums and products (and, with
     * a base, differences) of the inputs and the coefficients, nothing else: no division, min,
     * max or comparison. Once one operation's result is an infinity or NaN every later one is too
     * (inf·c is ±inf, or NaN for c = 0; inf + finite is inf; inf − inf and anything with NaN is
     * NaN), so a value cannot be absorbed on the way (unlike x / inf = 0 in gradient matching,
     * which is why that kernel bounds its inputs beforehand). Hence: the result is not finite
     * exactly where some input is NaN or infinite or the float arithmetic overflowed, and both are
     * what the general path must handle (count the inputs; compute in double, where its float
     * formula is not finite). BF16 and F32 infinities and NaNs are such inputs as they are read; an
     * F16 one decodes here to a finite float from 2^16 (F16_SPECIAL_EXPONENT), beyond every finite
     * F16 value, so F16 operands alone check their exponent as they are read.
     */

    @Override
    public boolean linearDirect(Kernels.Operand base, Kernels.Operand[] x, float[] w, Kernels.Operand out, long from, int n) {
        long end = from + n;
        long done = directLinear(base, x, w, out, from, end);
        return done >= 0 && ScalarKernels.linearDirectRange(base, x, w, out, done, end);
    }

    /** Elements from .. up to the last whole vector; returns where it stopped, or -1 to give the range up. */
    private long directLinear(Kernels.Operand base, Kernels.Operand[] x, float[] w, Kernels.Operand out, long from, long end) {
        Species sp = species();
        VectorSpecies<Integer> is = sp.i();
        VectorSpecies<Short> hs = sp.halfShort();
        if (hs == null && !allF32(base, x, out)) {
            return from; // (64 bits: no 16-bit shape to widen from; the scalar twin does it all)
        }
        int step = is.length();
        int models = x.length;
        int big16 = ScalarKernels.big(F16_SPECIAL_EXPONENT);
        int big255 = ScalarKernels.big(255);
        FloatVector zero = FloatVector.zero(sp.f());
        IntVector flags = IntVector.zero(is);
        long i = from;
        // two vectors per pass over the models: halves the per-model overhead (the operand's
        // fields, its dtype's switch, the segment's checks), which is most of the work per byte
        for (; i <= end - 2 * step; i += 2 * step) {
            long j = i + step;
            IntVector f = IntVector.zero(is);
            FloatVector b0 = zero;
            FloatVector b1 = zero;
            if (base != null) {
                MemorySegment sb = base.data();
                IntVector wb0;
                IntVector wb1;
                switch (base.type()) {
                    case F32 -> {
                        wb0 = IntVector.fromMemorySegment(is, sb, 4 * i, LE);
                        wb1 = IntVector.fromMemorySegment(is, sb, 4 * j, LE);
                    }
                    case BF16 -> {
                        wb0 = ((IntVector) ShortVector.fromMemorySegment(hs, sb, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                        wb1 = ((IntVector) ShortVector.fromMemorySegment(hs, sb, 2 * j, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                    }
                    default -> {
                        IntVector v0 = ((IntVector) ShortVector.fromMemorySegment(hs, sb, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o0 = v0.and(0x0FFF_E000);
                        wb0 = o0.add(112 << 23).blend(o0.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o0.compare(VectorOperators.LT, 0x80_0000)).or(v0.and(0x8000_0000));
                        IntVector v1 = ((IntVector) ShortVector.fromMemorySegment(hs, sb, 2 * j, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o1 = v1.and(0x0FFF_E000);
                        wb1 = o1.add(112 << 23).blend(o1.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o1.compare(VectorOperators.LT, 0x80_0000)).or(v1.and(0x8000_0000));
                        f = wb0.and(0x7F80_0000).add(big16).or(wb1.and(0x7F80_0000).add(big16)); // (an infinity or NaN: from 2^16)
                    }
                }
                b0 = wb0.reinterpretAsFloats();
                b1 = wb1.reinterpretAsFloats();
            }
            FloatVector acc0 = zero;
            FloatVector acc1 = zero;
            for (int t = 0; t < models; t++) {
                MemorySegment sx = x[t].data();
                IntVector wx0;
                IntVector wx1;
                switch (x[t].type()) {
                    case F32 -> {
                        wx0 = IntVector.fromMemorySegment(is, sx, 4 * i, LE);
                        wx1 = IntVector.fromMemorySegment(is, sx, 4 * j, LE);
                    }
                    case BF16 -> {
                        wx0 = ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                        wx1 = ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * j, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 16);
                    }
                    default -> {
                        IntVector v0 = ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * i, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o0 = v0.and(0x0FFF_E000);
                        wx0 = o0.add(112 << 23).blend(o0.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o0.compare(VectorOperators.LT, 0x80_0000)).or(v0.and(0x8000_0000));
                        IntVector v1 = ((IntVector) ShortVector.fromMemorySegment(hs, sx, 2 * j, LE).castShape(is, 0)).lanewise(VectorOperators.LSHL, 13);
                        IntVector o1 = v1.and(0x0FFF_E000);
                        wx1 = o1.add(112 << 23).blend(o1.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts(),
                                o1.compare(VectorOperators.LT, 0x80_0000)).or(v1.and(0x8000_0000));
                        f = f.or(wx0.and(0x7F80_0000).add(big16)).or(wx1.and(0x7F80_0000).add(big16));
                    }
                }
                float wt = w[t];
                FloatVector x0 = wx0.reinterpretAsFloats();
                FloatVector x1 = wx1.reinterpretAsFloats();
                if (base == null) {
                    acc0 = acc0.add(x0.mul(wt));
                    acc1 = acc1.add(x1.mul(wt));
                } else {
                    acc0 = acc0.add(x0.sub(b0).mul(wt));
                    acc1 = acc1.add(x1.sub(b1).mul(wt));
                }
            }
            FloatVector theta0 = base == null ? acc0 : b0.add(acc0);
            FloatVector theta1 = base == null ? acc1 : b1.add(acc1);
            // round to the output's dtype (to nearest even) and store; the flags' sign bit is set where
            // the stored value is not finite (theta not finite, or beyond the dtype's range), and the
            // range is then given up (so a NaN need not be made quiet here)
            IntVector e0 = theta0.reinterpretAsInts();
            IntVector e1 = theta1.reinterpretAsInts();
            f = f.or(e0.and(0x7F80_0000).add(big255)).or(e1.and(0x7F80_0000).add(big255));
            MemorySegment so = out.data();
            switch (out.type()) {
                case F32 -> {
                    e0.intoMemorySegment(so, 4 * i, LE);
                    e1.intoMemorySegment(so, 4 * j, LE);
                }
                case BF16 -> {
                    IntVector r0 = e0.add(e0.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
                    IntVector r1 = e1.add(e1.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
                    f = f.or(r0.and(0x7F80).add(Integer.MIN_VALUE - 0x7F80)).or(r1.and(0x7F80).add(Integer.MIN_VALUE - 0x7F80)); // rounded up to the infinity
                    r0.castShape(hs, 0).reinterpretAsShorts().intoMemorySegment(so, 2 * i, LE);
                    r1.castShape(hs, 0).reinterpretAsShorts().intoMemorySegment(so, 2 * j, LE);
                }
                default -> { // F16
                    IntVector abs0 = e0.and(0x7FFF_FFFF);
                    IntVector abs1 = e1.and(0x7FFF_FFFF);
                    IntVector normal0 = abs0.add(abs0.lanewise(VectorOperators.LSHR, 13).and(1).add(0xFFF))
                            .lanewise(VectorOperators.LSHR, 13).sub((127 - 15) << 10);
                    IntVector normal1 = abs1.add(abs1.lanewise(VectorOperators.LSHR, 13).and(1).add(0xFFF))
                            .lanewise(VectorOperators.LSHR, 13).sub((127 - 15) << 10);
                    IntVector tiny0 = theta0.abs().add(0.5f).reinterpretAsInts().sub(0x3F00_0000);
                    IntVector tiny1 = theta1.abs().add(0.5f).reinterpretAsInts().sub(0x3F00_0000);
                    IntVector h0 = normal0.blend(tiny0, abs0.compare(VectorOperators.LT, 0x3880_0000));
                    IntVector h1 = normal1.blend(tiny1, abs1.compare(VectorOperators.LT, 0x3880_0000));
                    f = f.or(h0.add(Integer.MIN_VALUE - 0x7C00)).or(h1.add(Integer.MIN_VALUE - 0x7C00)); // from 0x7C00: an infinity, or beyond
                    h0.or(e0.lanewise(VectorOperators.LSHR, 16).and(0x8000)).castShape(hs, 0).reinterpretAsShorts()
                            .intoMemorySegment(so, 2 * i, LE);
                    h1.or(e1.lanewise(VectorOperators.LSHR, 16).and(0x8000)).castShape(hs, 0).reinterpretAsShorts()
                            .intoMemorySegment(so, 2 * j, LE);
                }
            }
            flags = flags.or(f);
        }
        return flags.compare(VectorOperators.LT, 0).anyTrue() ? -1 : i;
    }

    private static boolean allF32(Kernels.Operand base, Kernels.Operand[] x, Kernels.Operand out) {
        boolean f32 = (base == null || base.type() == DType.F32) && out.type() == DType.F32;
        for (Kernels.Operand xt : x) {
            f32 &= xt.type() == DType.F32;
        }
        return f32;
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
