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

    /** Linear (mergekit {@code linear}): sum_t w[t] * x[t][i]. */
    public static float linear(float[][] x, float[] w, int i) {
        float acc = 0f;
        for (int t = 0; t < x.length; t++) {
            acc += w[t] * x[t][i];
        }
        return acc;
    }

    /** Task arithmetic: b + sum_t (sign * a[t]) * (x[t][i] - b); sign is 1, or -1 for removal. */
    public static float taskArithmetic(float b, float[][] x, float[] a, float sign, int i) {
        return taskArithmetic(b, x, a, sign, i, null);
    }

    /** The same; with {@code terms}, also each model's term (sign * a[t]) * (x[t][i] - b) in terms[t]. */
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

    /**
     * Gradient matching at element i (docs/method.md, "Gradient matching"; "Removing tasks" when {@code p.remove()}):
     * writes theta_i to out[i].
     *
     * <p>P0 = delta0 + s0 * H0[i] (delta0 when {@code baseFisher} is null), a_t = ±alpha_t,
     * Hbar = P0 + sum_t s_t H_t[i] * a_t and theta = b + sum_t ((P0 + s_t H_t[i]) * a_t) * (x_t[i] - b) / Hbar.
     * When removing, Hbar is clamped from below at clampRel * P0 where P0 > 0. Where Hbar is not
     * positive (and, when removing, P0 is not positive either) the element gets the
     * task-arithmetic value instead.
     *
     * @return 1 where removal clamped Hbar or fell back to task arithmetic, else 0
     */
    public static int gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                       float[] out, int i) {
        return gradientMatching(p, base, baseFisher, x, fisher, out, i, null);
    }

    /**
     * The parts of {@link #gradientMatching} at element i, for passes that drop or rescale some
     * models' updates (the sparsified gradient-matching methods): terms[t] receives model t's
     * term of the numerator, and the denominator is returned, so that
     * theta_i = b + (terms[0] + ... + terms[T-1]) / denominator bit for bit (summed from 0 in index
     * order). Where the rule falls back to task arithmetic the terms are (±alpha_t) * (x_t[i] - b)
     * and the denominator is 1. {@code terms} holds at least T + 1 floats.
     */
    public static float gradientMatchingTerms(GradientMatching p, float[] base, float[] baseFisher, float[][] x,
                                              float[][] fisher, int i, float[] terms) {
        gradientMatching(p, base, baseFisher, x, fisher, null, i, terms);
        return terms[x.length];
    }

    /** The definition: out[i] when out is not null; the terms and the denominator when terms is not null. */
    private static int gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher,
                                        float[] out, int i, float[] terms) {
        float[] alphas = p.alphas();
        float[] scales = p.scales();
        float sign = p.remove() ? -1f : 1f;
        int models = x.length;
        float b = base[i];
        float p0 = baseFisher == null ? p.delta0() : p.delta0() + baseFisher[i] * p.baseScale();
        float hbar = p0;
        float num = 0f;
        for (int t = 0; t < models; t++) {
            float at = sign * alphas[t];
            float sh = fisher[t][i] * scales[t];
            hbar += sh * at;
            float term = ((p0 + sh) * at) * (x[t][i] - b);
            num += term;
            if (terms != null) {
                terms[t] = term;
            }
        }
        int replaced = 0;
        boolean fallback;
        if (p.remove()) {
            if (p0 > 0f) {
                float lim = p0 * p.clampRel();
                if (hbar < lim) {
                    hbar = lim;
                    replaced = 1;
                }
                fallback = false;
            } else {
                fallback = hbar <= 0f;
                replaced = fallback ? 1 : 0;
            }
        } else {
            fallback = hbar <= 0f;
        }
        if (fallback) {
            float theta = taskArithmetic(b, x, alphas, sign, i, terms);
            if (out != null) {
                out[i] = theta;
            }
            if (terms != null) {
                terms[models] = 1f;
            }
            return replaced;
        }
        if (out != null) {
            out[i] = b + num / hbar;
        }
        if (terms != null) {
            terms[models] = hbar;
        }
        return replaced;
    }

    /**
     * Fisher averaging: sum_t c_t x_t[i] / sum_t c_t with c_t = max(s_t H_t[i], floor) * a_t; where
     * the denominator is 0, the plain weighted average sum_t a_t x_t[i] / aSum ({@code aSum} is
     * {@link #sum}(a)).
     */
    public static float fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float aSum, int i) {
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

    /**
     * Fisher averaging with the base as one more model of weight 1:
     * (F0 b + sum_t c_t x_t[i]) / (F0 + sum_t c_t), F0 = max(s0 H0[i], floor) (H0 = 0 when
     * {@code baseFisher} is null); where the denominator is 0, (b + sum_t a_t x_t[i]) / aSum1
     * ({@code aSum1} is 1 + {@link #sum}(a)).
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
        if (den == 0f) {
            float plain = b;
            for (int t = 0; t < x.length; t++) {
                plain += a[t] * x[t][i];
            }
            return plain / aSum1;
        }
        return num / den;
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
