package ugm.core.kernel;

/**
 * Every element-wise formula of the kernels, defined once, for one element: the scalar kernels
 * are loops over these methods, the vector kernels end their loops (the tails) with them, the
 * merge passes that need a formula's parts call them, and the tests take them as the definition
 * the vector lanes must match bit for bit.
 *
 * <p>Each is a plain sequence of single float adds, multiplies, divides and maxes (no fused
 * multiply-add), in an order the vector kernels repeat lane by lane: the order is part of the
 * definition. Arguments are not checked here ({@link Kernels} checks them once per call).
 *
 * <p><b>Overflow.</b> Float arithmetic can overflow on the way to a result that is itself a
 * float (a Fisher near 3e38 times its scale, a product of large weights and values). So each
 * formula has a careful twin that computes the same expression in double, where no product or
 * sum of a few floats can overflow: where every input of an element is finite but the float
 * result (or, for gradient matching, Hbar) is not, the element takes the careful value, rounded
 * to float. It is infinite only where the exact result is beyond the float range. Inputs that
 * are NaN or infinite pass through as before (the merge reports them). Ordinary elements never
 * reach the careful path, so their bits are the float formula's.
 *
 * <p>Static and stateless: safe to call from any thread.
 */
public final class Formulas {
    private Formulas() {
    }

    /** sum_t a[t], in index order, from 0. */
    public static float sum(float[] a) {
        float s = 0f;
        for (float v : a) {
            s += v;
        }
        return s;
    }

    /**
     * The task-vector family at element i ({@link Kernels#taskVectors}): Δ_t = x_t − b in float (in
     * double where that overflowed finite values), w_t = weight_t·(Δ_t·factor_t) in double where
     * {@code kept[t]} is null or keeps element i, else +0; with consensus only the w_t of the sign
     * of Σ w_t (Σ ≥ 0: positive) count, with their weights; normalised by the sum of the weights
     * that count (1 where that is 0, or, without consensus, below 1e-8 in magnitude); b + λ·that,
     * rounded once to float. Sums in model order, from +0 (adding +0 for what does not count
     * leaves them as they are). {@code w} holds one double per model (scratch).
     */
    static float taskVectors(TaskVectors p, float b, float[][] x, boolean[][] kept, int i, double[] w) {
        int models = x.length;
        float[] weights = p.weights();
        double[] factors = p.factors();
        double sum = 0;
        for (int t = 0; t < models; t++) {
            float xt = x[t][i];
            float d = xt - b;
            double delta = Float.isInfinite(d) && Float.isFinite(xt) && Float.isFinite(b) ? (double) xt - b : d;
            double v = weights[t] * (delta * factors[t]);
            w[t] = kept[t] == null ? v : only(kept[t][i], v);
            sum += w[t];
        }
        double mixed = sum;
        double div = 0;
        if (p.consensus()) {
            mixed = 0;
            boolean positive = sum >= 0;
            for (int t = 0; t < models; t++) {
                boolean agrees = positive & w[t] > 0 | !positive & w[t] < 0;
                mixed += only(agrees, w[t]);
                div += only(agrees, weights[t]);
            }
        } else if (p.normalize()) {
            div = p.weightSum();
        }
        if (p.normalize()) {
            boolean tiny = p.consensus() ? div == 0 : Math.abs(div) < 1e-8;
            mixed /= tiny ? 1 : div;
        }
        return (float) (b + p.lambda() * mixed);
    }

    /** v where {@code keep}, else +0, without a branch (a ties merge's survivors and signs are as unpredictable as its inputs). */
    public static double only(boolean keep, double v) {
        return Double.longBitsToDouble(Double.doubleToRawLongBits(v) & -(long) (keep ? 1 : 0));
    }

    /** {@link #only(boolean, double)} in float. */
    public static float only(boolean keep, float v) {
        return Float.intBitsToFloat(Float.floatToRawIntBits(v) & -(keep ? 1 : 0));
    }

    /** Linear (mergekit {@code linear}): sum_t w[t] * x[t][i]; in double where that overflows. */
    public static float linear(float[][] x, float[] w, int i) {
        float acc = linearFloat(x, w, i);
        if (Float.isFinite(acc) || !finite(x, i)) {
            return acc;
        }
        double careful = 0;
        for (int t = 0; t < x.length; t++) {
            careful += (double) w[t] * x[t][i];
        }
        return (float) careful;
    }

    /**
     * The float formula of {@link #linear} alone, without its careful twin: not finite where it
     * overflowed (or an input is not finite). The direct kernels compute this and decline there.
     */
    static float linearFloat(float[][] x, float[] w, int i) {
        float acc = 0f;
        for (int t = 0; t < x.length; t++) {
            acc += w[t] * x[t][i];
        }
        return acc;
    }

    /** The float formula of {@link #taskArithmetic} alone (sign 1), without its careful twin, as {@link #linearFloat}. */
    static float taskArithmeticFloat(float b, float[][] x, float[] a, int i) {
        return taskArithmetic(b, x, a, 1f, i, null);
    }

    /** Task arithmetic: b + sum_t (sign * a[t]) * (x[t][i] - b); sign is 1, or -1 for removal; in double where that overflows. */
    public static float taskArithmetic(float b, float[][] x, float[] a, float sign, int i) {
        float theta = taskArithmetic(b, x, a, sign, i, null);
        if (Float.isFinite(theta) || !Float.isFinite(b) || !finite(x, i)) {
            return theta;
        }
        return (float) taskArithmeticCareful(b, x, a, sign, i, null);
    }

    /** The float formula; with {@code terms}, also each model's term (sign * a[t]) * (x[t][i] - b) in terms[t]. */
    private static float taskArithmetic(float b, float[][] x, float[] a, float sign, int i, float[] terms) {
        float acc = 0f;
        for (int t = 0; t < x.length; t++) {
            float term = (sign * a[t]) * (x[t][i] - b);
            acc += term;
            if (terms != null) {
                terms[t] = term;
            }
        }
        return b + acc;
    }

    /** The careful twin, in double; with {@code terms}, also each model's term. */
    private static double taskArithmeticCareful(double b, float[][] x, float[] a, float sign, int i, double[] terms) {
        double acc = 0;
        for (int t = 0; t < x.length; t++) {
            double term = (double) (sign * a[t]) * ((double) x[t][i] - b);
            acc += term;
            if (terms != null) {
                terms[t] = term;
            }
        }
        return b + acc;
    }

    /**
     * Gradient matching at element i (docs/method.md, "Gradient matching"; "Removing tasks" where a task is
     * subtracted): writes theta_i to out[i].
     *
     * <p>P0 = delta0 + s0 * H0[i] (delta0 when {@code baseFisher} is null), a_t = ±alpha_t (minus
     * when removing), c_t = s_t * a_t ({@link GradientMatching#fisherWeights()}, rounded to float
     * once), Hbar = P0 + sum_t H_t[i] * c_t and
     * theta = b + sum_t (P0 * a_t + H_t[i] * c_t) * (x_t[i] - b) / Hbar. Where some a_t is negative
     * ({@link GradientMatching#safeguard()}), Hbar is clamped from below at clampRel * K, K = P0 plus
     * the H_t[i] * c_t with a_t > 0 (the kept precision; P0 when every task is subtracted),
     * where K > 0. Where Hbar is not positive (and, under the safeguard, K is not positive either)
     * the element gets the task-arithmetic value instead. Where the inputs are finite but the
     * float result or Hbar is not, or Hbar was clamped to a limit below the smallest normal float
     * (a tiny clampRel: the float limit is imprecise, or 0), the careful twin computes it in double.
     *
     * @return 1 where the safeguard clamped Hbar or fell back to task arithmetic, else 0
     */
    public static int gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                       float[] out, int i) {
        int replaced = floatGradientMatching(p, base, baseFisher, x, fisher, out, i, null);
        if (replaced >= 0 || !gradientMatchingInputsFinite(base, baseFisher, x, fisher, i)) {
            return replaced & 1;
        }
        double[] careful = new double[x.length + 1];
        replaced = carefulGradientMatching(p, base, baseFisher, x, fisher, i, careful);
        double num = 0;
        for (int t = 0; t < x.length; t++) {
            num += careful[t];
        }
        out[i] = (float) (base[i] + num / careful[x.length]);
        return replaced;
    }

    /**
     * The parts of the float formula of {@link #gradientMatching} at element i, for passes that
     * drop or rescale some models' updates (the sparsified gradient-matching methods): terms[t]
     * receives model t's term of the numerator, and the denominator is returned, so that
     * theta_i = b + (terms[0] + ... + terms[T-1]) / denominator bit for bit (summed from 0 in index
     * order) wherever that is finite. Where the rule falls back to task arithmetic the terms are
     * (±alpha_t) * (x_t[i] - b) and the denominator is 1. {@code terms} holds at least T + 1
     * floats. Where the float terms overflow, {@link #gradientMatchingTermsCareful} gives them.
     */
    public static float gradientMatchingTerms(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                              float[][] fisher, int i, float[] terms) {
        floatGradientMatching(p, base, baseFisher, x, fisher, null, i, terms);
        return terms[x.length];
    }

    /** The careful twin of {@link #gradientMatchingTerms}, in double: the same terms and denominator, unrounded. */
    public static double gradientMatchingTermsCareful(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                                      float[][] fisher, int i, double[] terms) {
        carefulGradientMatching(p, base, baseFisher, x, fisher, i, terms);
        return terms[x.length];
    }

    /** Whether every input of gradient matching at element i is finite (the base Fisher where given). */
    public static boolean gradientMatchingInputsFinite(float[] base, float[] baseFisher, float[][] x, float[][] fisher, int i) {
        return Float.isFinite(base[i]) && (baseFisher == null || Float.isFinite(baseFisher[i])) && finite(x, i) && finite(fisher, i);
    }

    /**
     * The float formula. Writes out[i] when out is not null, the terms and the denominator when
     * terms is not null. Returns 1 where the safeguard clamped or fell back, 0 where not, and that
     * with bit 31 set (a negative number) where the result or Hbar is not finite, or Hbar was
     * clamped to a limit below the smallest normal float.
     */
    static int floatGradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                             float[][] fisher, float[] out, int i, float[] terms) {
        float[] a = p.signedAlphas();
        float[] c = p.fisherWeights();
        int models = x.length;
        float b = base[i];
        float p0 = baseFisher == null ? p.delta0() : p.delta0() + baseFisher[i] * p.baseScale();
        float hbar = p0;
        float kept = p0;
        float num = 0f;
        for (int t = 0; t < models; t++) {
            float at = a[t];
            float hc = fisher[t][i] * c[t];
            hbar += hc;
            if (at > 0f) {
                kept += hc;
            }
            float term = (p0 * at + hc) * (x[t][i] - b);
            num += term;
            if (terms != null) {
                terms[t] = term;
            }
        }
        int replaced = 0;
        boolean fallback;
        boolean subnormal = false;
        if (p.safeguard()) {
            if (kept > 0f) {
                float lim = kept * p.clampRel();
                if (hbar < lim) {
                    hbar = lim;
                    replaced = 1;
                    subnormal = lim < Float.MIN_NORMAL; // (a tiny clamp: the float limit has lost its precision, or is 0)
                }
                fallback = false;
            } else {
                fallback = hbar <= 0f;
                replaced = fallback ? 1 : 0;
            }
        } else {
            fallback = hbar <= 0f;
        }
        float theta;
        if (fallback) {
            theta = taskArithmetic(b, x, p.alphas(), p.sign(), i, terms);
            if (terms != null) {
                terms[models] = 1f;
            }
        } else {
            theta = b + num / hbar;
            if (terms != null) {
                terms[models] = hbar;
            }
        }
        if (out != null) {
            out[i] = theta;
        }
        return Float.isFinite(theta) && Float.isFinite(hbar) && !subnormal ? replaced : replaced | Integer.MIN_VALUE;
    }

    /** The careful twin of the float formula, in double: terms[0, T) and the denominator in terms[T]; returns the clamp flag. */
    private static int carefulGradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                               float[][] fisher, int i, double[] terms) {
        float[] a = p.signedAlphas();
        float[] scales = p.scales();
        int models = x.length;
        double b = base[i];
        double p0 = baseFisher == null ? p.delta0() : p.delta0() + (double) baseFisher[i] * p.baseScale();
        double hbar = p0;
        double kept = p0;
        for (int t = 0; t < models; t++) {
            double at = a[t];
            double hc = (double) fisher[t][i] * ((double) scales[t] * at);
            hbar += hc;
            if (at > 0) {
                kept += hc;
            }
            terms[t] = (p0 * at + hc) * ((double) x[t][i] - b);
        }
        int replaced = 0;
        boolean fallback;
        if (p.safeguard()) {
            if (kept > 0) {
                double lim = kept * p.clampRel();
                if (hbar < lim) {
                    hbar = lim;
                    replaced = 1;
                }
                fallback = false;
            } else {
                fallback = hbar <= 0;
                replaced = fallback ? 1 : 0;
            }
        } else {
            fallback = hbar <= 0;
        }
        if (fallback) {
            taskArithmeticCareful(b, x, p.alphas(), p.sign(), i, terms);
            terms[models] = 1;
        } else {
            terms[models] = hbar;
        }
        return replaced;
    }

    /**
     * Fisher averaging: sum_t c_t x_t[i] / sum_t c_t with c_t = max(s_t H_t[i], floor) * a_t; where
     * the denominator is 0, the plain weighted average sum_t a_t x_t[i] / aSum ({@code aSum} is
     * {@link #sum}(a)). In double where that overflows (the result or the denominator: a
     * denominator overflowing alone would make the result 0).
     */
    public static float fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float aSum, int i) {
        float num = 0f;
        float den = 0f;
        for (int t = 0; t < x.length; t++) {
            float c = Math.max(fisher[t][i] * s[t], floor) * a[t];
            num += c * x[t][i];
            den += c;
        }
        float theta;
        if (den == 0f) {
            float plain = 0f;
            for (int t = 0; t < x.length; t++) {
                plain += a[t] * x[t][i];
            }
            theta = plain / aSum;
        } else {
            theta = num / den;
        }
        if (Float.isFinite(theta) && Float.isFinite(den) || !finite(x, i) || !finite(fisher, i)) {
            return theta;
        }
        return (float) fisherCareful(0, 0, x, fisher, a, s, floor, 0, i);
    }

    /**
     * Fisher averaging with the base as one more model of weight 1:
     * (F0 b + sum_t c_t x_t[i]) / (F0 + sum_t c_t), F0 = max(s0 H0[i], floor) (H0 = 0 when
     * {@code baseFisher} is null); where the denominator is 0, (b + sum_t a_t x_t[i]) / aSum1
     * ({@code aSum1} is 1 + {@link #sum}(a)). In double where that overflows.
     */
    public static float fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a,
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
        float theta;
        if (den == 0f) {
            float plain = b;
            for (int t = 0; t < x.length; t++) {
                plain += a[t] * x[t][i];
            }
            theta = plain / aSum1;
        } else {
            theta = num / den;
        }
        if (Float.isFinite(theta) && Float.isFinite(den) || !Float.isFinite(b) || baseFisher != null && !Float.isFinite(baseFisher[i])
                || !finite(x, i) || !finite(fisher, i)) {
            return theta;
        }
        double f0Careful = Math.max(baseFisher == null ? 0 : (double) baseFisher[i] * s0, floor);
        return (float) fisherCareful(f0Careful, b, x, fisher, a, s, floor, 1, i);
    }

    /**
     * The careful twin of both Fisher averages, in double: (f0 b + sum_t c_t x_t) / (f0 + sum_t c_t),
     * or, where the denominator is 0, (plain0 b + sum_t a_t x_t) / (plain0 + sum_t a_t).
     */
    private static double fisherCareful(double f0, double b, float[][] x, float[][] fisher, float[] a, float[] s, float floor,
                                        double plain0, int i) {
        double num = f0 * b;
        double den = f0;
        for (int t = 0; t < x.length; t++) {
            double c = Math.max((double) fisher[t][i] * s[t], floor) * a[t];
            num += c * x[t][i];
            den += c;
        }
        if (den != 0) {
            return num / den;
        }
        double plain = plain0 * b;
        double weights = plain0;
        for (int t = 0; t < x.length; t++) {
            plain += (double) a[t] * x[t][i];
            weights += a[t];
        }
        return plain / weights;
    }

    /** Whether x[t][i] is finite for every t. */
    private static boolean finite(float[][] x, int i) {
        for (float[] xt : x) {
            if (!Float.isFinite(xt[i])) {
                return false;
            }
        }
        return true;
    }

    /** The Fisher check: negative or NaN (-0.0 passes). */
    public static boolean isNegativeOrNaN(float v) {
        return !(v >= 0f);
    }

    /** The input scan: NaN or infinite. */
    public static boolean isNonFinite(float v) {
        return !Float.isFinite(v);
    }
}
