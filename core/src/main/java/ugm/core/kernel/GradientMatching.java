package ugm.core.kernel;

import java.util.Objects;

/**
 * Parameters of the gradient-matching rule (docs/method.md, "Gradient matching" and "Removing tasks").
 *
 * <p>A task whose signed weight {@code a_t} ({@code alpha_t}, negated when removing) is negative
 * is subtracted, exactly as {@code remove} subtracts every task: method.md's removal rule is the
 * merging rule with {@code alpha_t -> -alpha_t}. Wherever some {@code a_t} is negative
 * ({@link #safeguard()}), Hbar is clamped from below at {@code clampRel} times the precision of
 * what is kept, {@code P0 + sum of a_t s_t H_t over the a_t > 0} (just P0 when every task is
 * subtracted, as {@code remove} does), and where that is 0 and Hbar is not positive the element
 * gets the task-arithmetic value.
 *
 * <p>Immutable (the kernels never write the arrays; callers must not either).
 */
public final class GradientMatching {
    private final float[] alphas;
    private final float[] scales;
    private final float baseScale;
    private final float delta0;
    private final boolean remove;
    private final float clampRel;
    private final boolean safeguard;
    private final int[] directExponents;

    /**
     * @param alphas    a_t = lambda * weight_t, one per task model; a negative one subtracts its task
     * @param scales    s_t, the factor applied to each task's stored Fisher
     * @param baseScale s0, the factor applied to the base Fisher (ignored when there is none)
     * @param delta0    the scalar prior precision, {@code >= 0}
     * @param remove    subtract the tasks instead of adding them (a_t becomes -a_t)
     * @param clampRel  where {@link #safeguard()} applies, Hbar is clamped from below at {@code clampRel}
     *                  times the kept precision; must then lie in (0, 1]
     */
    public GradientMatching(float[] alphas, float[] scales, float baseScale, float delta0, boolean remove, float clampRel) {
        Objects.requireNonNull(alphas, "alphas");
        Objects.requireNonNull(scales, "scales");
        if (alphas.length != scales.length) {
            throw new IllegalArgumentException(alphas.length + " alphas but " + scales.length + " scales");
        }
        if (!(delta0 >= 0) || Float.isInfinite(delta0)) {
            throw new IllegalArgumentException("delta0 must be finite and >= 0, got " + delta0);
        }
        boolean subtracted = remove;
        for (float a : alphas) {
            subtracted |= a < 0f;
        }
        if (subtracted && !(clampRel > 0 && clampRel <= 1)) {
            throw new IllegalArgumentException("clampRel must lie in (0, 1] when a task is subtracted, got " + clampRel);
        }
        this.alphas = alphas;
        this.scales = scales;
        this.baseScale = baseScale;
        this.delta0 = delta0;
        this.remove = remove;
        this.clampRel = clampRel;
        this.safeguard = subtracted;
        this.directExponents = directExponents(alphas, scales, baseScale, delta0);
    }

    /**
     * The biased float exponents from which an input value makes the direct kernels decline a
     * range (see {@link Kernels#gradientMatchingDirect}): with every |base| and |model| value below
     * X = 2^(ex − 127) and every Fisher and base Fisher value below H = 2^(eh − 127), no float
     * operation of the rule can overflow with these parameters. With A = Σ|α_t|,
     * S = max(|s0|, |s_t|) and d = θ_t − θ0 (|d| < 2X): Hbar ≤ δ0 + H·S·(1 + A); each numerator
     * term is computed as ((P0 + s_t·H_t)·α_t)·d, the first product ≤ (δ0 + 2H·S)·max(A, 1), the term
     * and the sum ≤ (δ0 + 2H·S)·2X·max(A, 1); |θ| ≤ X·(1 + 2·max(A, 1)) (the update is
     * a weighted mean of the deltas, its weights summing to at most max(A, 1)), and so is the
     * task-arithmetic value. Each bound is kept under 2^126, a factor 4 below the float overflow and
     * below BF16's rounding to infinity. X is 2^32 (model weights are far smaller), less where the
     * weights or δ0 are huge; H is then the largest power of two that fits (about 1e21 with a
     * scale of 1e5). An exponent of 0 makes every value decline; infinities and NaN (255) always do.
     *
     * @return {value exponent, Fisher exponent}
     */
    private static int[] directExponents(float[] alphas, float[] scales, float baseScale, float delta0) {
        double a = 0;
        double s = Math.abs((double) baseScale);
        for (int t = 0; t < alphas.length; t++) {
            a += Math.abs((double) alphas[t]);
            s = Math.max(s, Math.abs((double) scales[t]));
        }
        double am = Math.max(a, 1);
        double limit = 0x1p126;
        int ex = 127 + 32;
        while (ex > 0 && !(Math.scalb(1.0, ex - 127) * (1 + 2 * am) < limit && delta0 * 2 * Math.scalb(1.0, ex - 127) * am < limit / 2)) {
            ex--; // (half of the numerator's room left for the Fishers)
        }
        double x = Math.scalb(1.0, ex - 127);
        int eh = 254;
        while (eh > 0) {
            double h = Math.scalb(1.0, eh - 127);
            if (delta0 + h * s * (1 + a) < limit && (delta0 + 2 * h * s) * am < limit && (delta0 + 2 * h * s) * 2 * x * am < limit) {
                break;
            }
            eh--;
        }
        return new int[] {ex, eh};
    }

    /**
     * The biased float exponent (0 to 159) from which a base or model value makes the direct
     * kernels hand the range to the general path (see {@link #directFisherExponent()}): 159, values
     * from 2^32 on, unless the weights are huge.
     */
    public int directValueExponent() {
        return directExponents[0];
    }

    /**
     * The biased float exponent (0 to 254) from which a Fisher or base Fisher value makes the
     * direct kernels hand the range to the general path: below it, and below
     * {@link #directValueExponent()} for the values, no float operation of the rule can overflow
     * with these parameters (about 1e21 with a scale of 1e5 and a few weights near 1).
     */
    public int directFisherExponent() {
        return directExponents[1];
    }

    /** a_t = lambda * weight_t, one per task model. */
    public float[] alphas() {
        return alphas;
    }

    /** s_t, one per task model. */
    public float[] scales() {
        return scales;
    }

    /** s0. */
    public float baseScale() {
        return baseScale;
    }

    /** δ0. */
    public float delta0() {
        return delta0;
    }

    /** Whether every task is subtracted. */
    public boolean remove() {
        return remove;
    }

    /** The safeguard's clamp, relative to the kept precision. */
    public float clampRel() {
        return clampRel;
    }

    /** The sign applied to every alpha: -1 when removing, else 1. */
    public float sign() {
        return remove ? -1f : 1f;
    }

    /**
     * Whether some task is subtracted (removal, or a negative alpha): then Hbar is clamped from
     * below at {@code clampRel} times the kept precision. Else every signed weight is >= 0, Hbar
     * is at least P0, and the clamp could never apply.
     */
    public boolean safeguard() {
        return safeguard;
    }
}
