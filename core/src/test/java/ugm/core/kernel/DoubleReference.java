package ugm.core.kernel;

/**
 * The methods of docs/method.md in double precision, written straight from the formulas, one element
 * at a time. Each returns the value and, through {@link #scale}, the magnitude of the terms that
 * were summed, which bounds the float rounding error of an implementation.
 */
final class DoubleReference {
    /** Sum of the magnitudes of the terms behind the last value computed. */
    double scale;
    /** Whether the last gradient-matching element was clamped or replaced (removal). */
    boolean replaced;
    /** For the last removal element with P0 > 0: |Hbar - clampRel*P0| before clamping, to spot borderline cases. */
    double clampMargin = Double.POSITIVE_INFINITY;

    double linear(float[][] x, float[] w, int i) {
        double sum = 0;
        scale = 0;
        for (int t = 0; t < x.length; t++) {
            sum += (double) w[t] * x[t][i];
            scale += Math.abs((double) w[t] * x[t][i]);
        }
        return sum;
    }

    double taskArithmetic(float[] base, float[][] x, float[] a, int i) {
        double b = base[i];
        double sum = b;
        scale = Math.abs(b);
        for (int t = 0; t < x.length; t++) {
            double term = a[t] * ((double) x[t][i] - b);
            sum += term;
            scale += Math.abs(term) + Math.abs(a[t] * (double) x[t][i]);
        }
        return sum;
    }

    /**
     * Gradient matching as method.md and the README define it: a_t = ±alpha_t (minus when
     * removing); where some a_t is negative (a task subtracted), Hbar is clamped from below at
     * clampRel × K, K = P0 + the a_t·s_t·H_t with a_t > 0, where K > 0; where Hbar (or, with a task
     * subtracted, K) is not positive, the task-arithmetic value.
     */
    double gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher, int i) {
        replaced = false;
        clampMargin = Double.POSITIVE_INFINITY;
        double b = base[i];
        double p0 = p.delta0() + (baseFisher == null ? 0 : (double) p.baseScale() * baseFisher[i]);
        double[] a = new double[x.length];
        double hbar = p0;
        double kept = p0;
        double hbarMagnitude = Math.abs(p0);
        boolean subtracted = p.remove();
        for (int t = 0; t < x.length; t++) {
            a[t] = p.remove() ? -(double) p.alphas()[t] : p.alphas()[t];
            double sh = (double) p.scales()[t] * fisher[t][i];
            hbar += a[t] * sh;
            if (a[t] > 0) {
                kept += a[t] * sh;
            }
            subtracted |= a[t] < 0;
            hbarMagnitude += Math.abs(a[t] * sh);
        }
        double sign = p.remove() ? -1 : 1;
        if (subtracted) {
            if (kept > 0) {
                double lim = p.clampRel() * kept;
                clampMargin = Math.abs(hbar - lim) / hbarMagnitude;
                if (hbar < lim) {
                    hbar = lim;
                    replaced = true;
                }
            } else if (hbar <= 0) {
                replaced = true;
                return taskArithmetic(base, x, p.alphas(), i, sign);
            }
        } else if (hbar <= 0) {
            return taskArithmetic(base, x, p.alphas(), i, sign);
        }
        double theta = b;
        // float error of Hbar relative to its size, carried into every term
        double hbarRelError = hbarMagnitude / hbar;
        scale = Math.abs(b);
        for (int t = 0; t < x.length; t++) {
            double sh = (double) p.scales()[t] * fisher[t][i];
            double term = a[t] * (p0 + sh) / hbar * ((double) x[t][i] - b);
            theta += term;
            scale += Math.abs(term) * hbarRelError + Math.abs(a[t] * (p0 + sh) / hbar) * (Math.abs(x[t][i]) + Math.abs(b));
        }
        return theta;
    }

    private double taskArithmetic(float[] base, float[][] x, float[] alphas, int i, double sign) {
        double b = base[i];
        double sum = b;
        scale = Math.abs(b);
        for (int t = 0; t < x.length; t++) {
            double term = sign * alphas[t] * ((double) x[t][i] - b);
            sum += term;
            scale += Math.abs(term) + Math.abs(alphas[t]) * (Math.abs(x[t][i]) + Math.abs(b));
        }
        return sum;
    }

    double fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, int i) {
        double num = 0;
        double den = 0;
        double numMagnitude = 0;
        for (int t = 0; t < x.length; t++) {
            double f = Math.max((double) s[t] * fisher[t][i], floor);
            num += a[t] * f * x[t][i];
            den += a[t] * f;
            numMagnitude += Math.abs(a[t] * f * x[t][i]);
        }
        if (den == 0) {
            double plain = 0;
            double aSum = 0;
            scale = 0;
            for (int t = 0; t < x.length; t++) {
                plain += (double) a[t] * x[t][i];
                aSum += a[t];
                scale += Math.abs((double) a[t] * x[t][i]);
            }
            scale /= Math.abs(aSum);
            return plain / aSum;
        }
        scale = numMagnitude / Math.abs(den);
        return num / den;
    }

    double fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a, float[] s,
                          float floor, int i) {
        double b = base[i];
        double f0 = Math.max(baseFisher == null ? 0 : (double) s0 * baseFisher[i], floor);
        double num = f0 * b;
        double den = f0;
        double numMagnitude = Math.abs(f0 * b);
        for (int t = 0; t < x.length; t++) {
            double f = Math.max((double) s[t] * fisher[t][i], floor);
            num += a[t] * f * x[t][i];
            den += a[t] * f;
            numMagnitude += Math.abs(a[t] * f * x[t][i]);
        }
        if (den == 0) {
            double plain = b;
            double weights = 1;
            scale = Math.abs(b);
            for (int t = 0; t < x.length; t++) {
                plain += (double) a[t] * x[t][i];
                weights += a[t];
                scale += Math.abs((double) a[t] * x[t][i]);
            }
            scale /= Math.abs(weights);
            return plain / weights;
        }
        scale = numMagnitude / Math.abs(den);
        return num / den;
    }
}
