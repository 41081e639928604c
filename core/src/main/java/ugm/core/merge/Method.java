package ugm.core.merge;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The merge methods, named as in the CLI and the config. */
public enum Method {
    /** Weighted average of the models: {@code Σ w_t θ_t / Σ w_t} (normalize) or {@code Σ w_t θ_t}. */
    LINEAR(false, false),
    /** {@code θ0 + Σ λ w_t (θ_t − θ0)}. */
    TASK_ARITHMETIC(true, false),
    /** Fisher averaging {@code Σ w_t F_t θ_t / Σ w_t F_t}. */
    FISHER(false, true),
    /** Fisher averaging with the base counted as one more model. */
    FISHER_WITH_BASE(true, true),
    /** The paper's rule: {@code θ0 + Σ α_t (P0 + s_t H_t)/Hbar (θ_t − θ0)} (docs/method.md). */
    GRADIENT_MATCHING(true, true),
    /** Task vectors trimmed to the largest {@code density} by magnitude, sign election, disjoint mean (TIES). */
    TIES(true, false),
    /** Task vectors with elements dropped at random (keep probability {@code density}), rescaled, sign election. */
    DARE_TIES(true, false),
    /** Task vectors with elements dropped at random, rescaled, summed. */
    DARE_LINEAR(true, false),
    /** Task vectors without their largest ({@code gamma}) and smallest magnitudes, summed. */
    BREADCRUMBS(true, false),
    /** As breadcrumbs, with TIES' sign election. */
    BREADCRUMBS_TIES(true, false),
    /** Task vectors dropped at random with a keep probability rising with the magnitude's rank in its row (DELLA), rescaled, sign election. */
    DELLA(true, false),
    /** As della, summed without sign election. */
    DELLA_LINEAR(true, false),
    /** Spherical interpolation between the base and one model, parameter {@code t}. */
    SLERP(true, false),
    /** Interpolation towards the base by the angle between the task vectors (Model Stock). */
    MODEL_STOCK(true, false),
    /** Per element: the model where it is within {@code t} of the base, else moved towards the base. */
    NEARSWAP(true, false),
    /** Gradient matching whose per-model updates are trimmed by magnitude and sign-elected as in TIES. */
    TIES_GRADIENT_MATCHING(true, true),
    /** Gradient matching whose per-model updates are dropped at random and rescaled as in DARE. */
    DARE_GRADIENT_MATCHING(true, true);

    private final boolean needsBase;
    private final boolean needsFishers;

    Method(boolean needsBase, boolean needsFishers) {
        this.needsBase = needsBase;
        this.needsFishers = needsFishers;
    }

    /** The name users write: {@code gradient_matching}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean needsBase() {
        return needsBase;
    }

    public boolean needsFishers() {
        return needsFishers;
    }

    /** mergekit's default for {@code normalize}. */
    public boolean normalizeDefault() {
        return this == LINEAR || this == TIES || this == DELLA;
    }

    /** mergekit's default for {@code rescale} (the random sparsifiers). */
    public boolean rescaleDefault() {
        return this == DARE_TIES || this == DARE_LINEAR || this == DARE_GRADIENT_MATCHING || this == DELLA
                || this == DELLA_LINEAR;
    }

    /** Whether {@code remove} (task negation) applies. */
    public boolean supportsRemove() {
        return this == TASK_ARITHMETIC || this == GRADIENT_MATCHING;
    }

    /** The method called {@code id}, or null. */
    public static Method byId(String id) {
        for (Method m : values()) {
            if (m.id().equals(id)) {
                return m;
            }
        }
        return null;
    }

    public static String ids() {
        return Arrays.stream(values()).map(Method::id).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id();
    }
}
