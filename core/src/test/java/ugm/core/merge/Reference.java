package ugm.core.merge;

import ugm.core.merge.methods.Method;

/** The methods of docs/method.md evaluated in double precision, one element at a time: the yardstick for tests. */
public final class Reference {
    private Reference() {
    }

    /** The parameters the reference implementation reads. */
    public record Params(double[] w, double lambda, double[] s, double s0, double delta0, boolean remove, double clamp,
                  boolean normalize, boolean baseFisher) {
    }

    /** Independent double-precision evaluation of docs/method.md, element by element; counts removal clamps in clampCount[0]. */
    public static double value(Method m, Params p, double b, double h0, double[] x, double[] h, long[] clampCount) {
        int t = x.length;
        switch (m) {
            case LINEAR -> {
                double num = 0;
                double den = 0;
                for (int i = 0; i < t; i++) {
                    num += p.w()[i] * x[i];
                    den += p.w()[i];
                }
                return p.normalize() ? num / den : num;
            }
            case TASK_ARITHMETIC -> {
                double sum = 0;
                for (int i = 0; i < t; i++) {
                    sum += p.lambda() * p.w()[i] * (x[i] - b);
                }
                return p.remove() ? b - sum : b + sum;
            }
            case FISHER -> {
                double num = 0;
                double den = 0;
                double plain = 0;
                double wsum = 0;
                for (int i = 0; i < t; i++) {
                    num += p.w()[i] * p.s()[i] * h[i] * x[i];
                    den += p.w()[i] * p.s()[i] * h[i];
                    plain += p.w()[i] * x[i];
                    wsum += p.w()[i];
                }
                return den == 0 ? plain / wsum : num / den;
            }
            case FISHER_WITH_BASE -> {
                double num = p.s0() * h0 * b;
                double den = p.s0() * h0;
                double plain = b;
                double wsum = 1;
                for (int i = 0; i < t; i++) {
                    num += p.w()[i] * p.s()[i] * h[i] * x[i];
                    den += p.w()[i] * p.s()[i] * h[i];
                    plain += p.w()[i] * x[i];
                    wsum += p.w()[i];
                }
                return den == 0 ? plain / wsum : num / den;
            }
            case GRADIENT_MATCHING -> {
                double sign = p.remove() ? -1 : 1;
                double p0 = p.delta0() + (p.baseFisher() ? p.s0() * h0 : 0);
                double hbar = p0;
                for (int i = 0; i < t; i++) {
                    hbar += sign * p.lambda() * p.w()[i] * p.s()[i] * h[i];
                }
                boolean taFallback = false;
                if (p.remove()) {
                    if (p0 > 0 && hbar < p.clamp() * p0) {
                        hbar = p.clamp() * p0;
                        clampCount[0]++;
                    } else if (p0 <= 0 && hbar <= 0) {
                        taFallback = true;
                        clampCount[0]++;
                    }
                } else if (hbar == 0) {
                    taFallback = true;
                }
                double sum = 0;
                for (int i = 0; i < t; i++) {
                    double a = sign * p.lambda() * p.w()[i];
                    sum += taFallback ? a * (x[i] - b) : a * (p0 + p.s()[i] * h[i]) / hbar * (x[i] - b);
                }
                return b + sum;
            }
            default -> throw new AssertionError(m);
        }
    }


    /**
     * The size of the terms {@link #value} adds up, including how much the division by Hbar
     * amplifies the rounding of Hbar itself when it is a difference (removal): float32 results are
     * accurate to a few float ulps of this, not of the result.
     */
    public static double magnitude(Method m, Params p, double b, double h0, double[] x, double[] h) {
        double scale = Math.abs(b);
        for (double v : x) {
            scale += Math.abs(v);
        }
        if (m != Method.GRADIENT_MATCHING) {
            return scale * (1 + Math.abs(p.lambda()));
        }
        double sign = p.remove() ? -1 : 1;
        double p0 = p.delta0() + (p.baseFisher() ? p.s0() * h0 : 0);
        double hbar = p0;
        double hAbs = p0;
        for (int i = 0; i < x.length; i++) {
            double a = p.lambda() * p.w()[i] * p.s()[i] * h[i];
            hbar += sign * a;
            hAbs += Math.abs(a);
        }
        if (p.remove() && p0 > 0) {
            hbar = Math.max(hbar, p.clamp() * p0);
        }
        if (!(hbar > 0)) {
            return scale * (1 + Math.abs(p.lambda()));
        }
        double terms = Math.abs(b);
        for (int i = 0; i < x.length; i++) {
            terms += Math.abs(p.lambda() * p.w()[i] * (p0 + p.s()[i] * h[i]) / hbar * (x[i] - b));
        }
        return terms * (hAbs / hbar) + scale;
    }
}
