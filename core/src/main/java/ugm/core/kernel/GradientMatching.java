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
    private final float[] signedAlphas;
    private final float[] fisherWeights;
    private final float[] priorWeights;

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
        float sign = remove ? -1f : 1f;
        this.signedAlphas = new float[alphas.length];
        this.fisherWeights = new float[alphas.length];
        this.priorWeights = new float[alphas.length];
        for (int t = 0; t < alphas.length; t++) {
            signedAlphas[t] = sign * alphas[t];
            fisherWeights[t] = scales[t] * signedAlphas[t];
            priorWeights[t] = delta0 * signedAlphas[t];
        }
    }

    /**
     * The signed weights a_t = ±alpha_t (minus when removing): {@code sign() * alphas()[t]}, the
     * same bits.
     */
    public float[] signedAlphas() {
        return signedAlphas;
    }

    /**
     * c_t = s_t · a_t in float, one per task model: the weight of model t's stored Fisher in Hbar
     * (Hbar = P0 + sum_t H_t · c_t; {@link Formulas#gradientMatching}).
     */
    public float[] fisherWeights() {
        return fisherWeights;
    }

    /** δ0 · a_t in float, one per task model: P0 · a_t where there is no base Fisher (P0 = δ0). */
    public float[] priorWeights() {
        return priorWeights;
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
