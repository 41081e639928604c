package ugm.core.kernel;

import java.util.Objects;

/**
 * Parameters of the gradient-matching rule (docs/method.md, "Gradient matching" and "Removing tasks").
 *
 * @param alphas    a_t = lambda * weight_t, one per task model
 * @param scales    s_t, the factor applied to each task's stored Fisher
 * @param baseScale s0, the factor applied to the base Fisher (ignored when there is none)
 * @param delta0    the scalar prior precision, {@code >= 0}
 * @param remove    subtract the tasks instead of adding them (a_t becomes -a_t)
 * @param clampRel  with {@code remove}, Hbar is clamped from below at {@code clampRel * P0} where P0 > 0;
 *                  must then lie in (0, 1]
 */
public record GradientMatching(float[] alphas, float[] scales, float baseScale, float delta0, boolean remove, float clampRel) {
    public GradientMatching {
        Objects.requireNonNull(alphas, "alphas");
        Objects.requireNonNull(scales, "scales");
        if (alphas.length != scales.length) {
            throw new IllegalArgumentException(alphas.length + " alphas but " + scales.length + " scales");
        }
        if (!(delta0 >= 0) || Float.isInfinite(delta0)) {
            throw new IllegalArgumentException("delta0 must be finite and >= 0, got " + delta0);
        }
        if (remove && !(clampRel > 0 && clampRel <= 1)) {
            throw new IllegalArgumentException("clampRel must lie in (0, 1] when removing, got " + clampRel);
        }
    }
}
