package ugm.core.merge;

import static ugm.core.merge.Parameter.BASE_FISHER_SCALE;
import static ugm.core.merge.Parameter.CLAMP;
import static ugm.core.merge.Parameter.DELTA0;
import static ugm.core.merge.Parameter.DENSITY;
import static ugm.core.merge.Parameter.EPSILON;
import static ugm.core.merge.Parameter.FILTER_WISE;
import static ugm.core.merge.Parameter.FISHER_FLOOR;
import static ugm.core.merge.Parameter.FISHER_SCALE;
import static ugm.core.merge.Parameter.GAMMA;
import static ugm.core.merge.Parameter.LAMBDA;
import static ugm.core.merge.Parameter.NORMALIZE;
import static ugm.core.merge.Parameter.RANDOM_SEED;
import static ugm.core.merge.Parameter.REMOVE;
import static ugm.core.merge.Parameter.RESCALE;
import static ugm.core.merge.Parameter.T;
import static ugm.core.merge.Parameter.WEIGHT;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** The merge methods, named as in the CLI and the config. */
public enum Method {
    /** Weighted average of the models: {@code Σ w_t θ_t / Σ w_t} (normalize) or {@code Σ w_t θ_t}. */
    LINEAR(false, false, "Σ w_t θ_t / Σ w_t (without the division when --no-normalize)", WEIGHT, NORMALIZE),
    /** {@code θ0 + Σ λ w_t (θ_t − θ0)}. */
    TASK_ARITHMETIC(true, false, "θ0 + Σ lambda·weight_t (θ_t − θ0)", WEIGHT, LAMBDA, NORMALIZE, REMOVE),
    /** Fisher averaging {@code Σ w_t F_t θ_t / Σ w_t F_t}. */
    FISHER(false, true, "Σ w_t s_t H_t θ_t / Σ w_t s_t H_t", WEIGHT, FISHER_SCALE, FISHER_FLOOR),
    /** Fisher averaging with the base counted as one more model. */
    FISHER_WITH_BASE(true, true, "as fisher, with the base and its Fisher as one more model of weight 1",
            WEIGHT, FISHER_SCALE, BASE_FISHER_SCALE, FISHER_FLOOR),
    /** The paper's rule: {@code θ0 + Σ α_t (P0 + s_t H_t)/Hbar (θ_t − θ0)}. */
    GRADIENT_MATCHING(true, true, "θ0 + Σ α_t (P0 + s_t H_t)/(P0 + Σ α_t s_t H_t) (θ_t − θ0), P0 = delta0 + s0 H0,"
            + " α_t = lambda·weight_t (Daheim et al., ICLR 2024)",
            WEIGHT, FISHER_SCALE, LAMBDA, DELTA0, BASE_FISHER_SCALE, REMOVE, CLAMP),
    /** Task vectors trimmed to the largest {@code density} by magnitude, sign election, disjoint mean (TIES). */
    TIES(true, false, "task vectors trimmed to the --density largest |Δ|, sign election, mean of the agreeing",
            WEIGHT, DENSITY, LAMBDA, NORMALIZE, RESCALE),
    /** Task vectors with elements dropped at random (keep probability {@code density}), rescaled, sign election. */
    DARE_TIES(true, false, "task vectors with elements kept with probability --density, rescaled, sign election",
            WEIGHT, DENSITY, LAMBDA, NORMALIZE, RESCALE, RANDOM_SEED),
    /** Task vectors with elements dropped at random, rescaled, summed. */
    DARE_LINEAR(true, false, "as dare_ties, summed without sign election", WEIGHT, DENSITY, LAMBDA, NORMALIZE, RESCALE, RANDOM_SEED),
    /** Task vectors without their largest ({@code gamma}) and smallest magnitudes, summed. */
    BREADCRUMBS(true, false, "task vectors without the --gamma largest and the smallest |Δ| (keeping --density), summed",
            WEIGHT, DENSITY, GAMMA, LAMBDA, NORMALIZE, RESCALE),
    /** As breadcrumbs, with TIES' sign election. */
    BREADCRUMBS_TIES(true, false, "as breadcrumbs, with sign election", WEIGHT, DENSITY, GAMMA, LAMBDA, NORMALIZE, RESCALE),
    /** Task vectors dropped at random with a keep probability rising with the magnitude's rank in its row (DELLA), rescaled, sign election. */
    DELLA(true, false, "as dare_ties, keep probability density ± --epsilon by |Δ| rank in each row",
            WEIGHT, DENSITY, EPSILON, LAMBDA, NORMALIZE, RESCALE, RANDOM_SEED),
    /** As della, summed without sign election. */
    DELLA_LINEAR(true, false, "as della, summed without sign election", WEIGHT, DENSITY, EPSILON, LAMBDA, NORMALIZE, RESCALE, RANDOM_SEED),
    /** Spherical interpolation between the base and one model, parameter {@code t}. */
    SLERP(true, false, "spherical interpolation from the base (--t 0) to the one model (--t 1)", WEIGHT, T),
    /** Interpolation towards the base by the angle between the task vectors (Model Stock). */
    MODEL_STOCK(true, false, "t·mean(θ_t) + (1 − t)·θ0, t from the task vectors' mean cosine (--filter-wise: per row)",
            WEIGHT, FILTER_WISE),
    /** Per element: the model where it is within {@code t} of the base, else moved towards the base. */
    NEARSWAP(true, false, "the model where it is within --t of the base, else moved towards the base", WEIGHT, T),
    /** Gradient matching whose per-model updates are trimmed by magnitude and sign-elected as in TIES. */
    TIES_GRADIENT_MATCHING(true, true, "gradient matching with its per-model updates trimmed and sign-elected as ties",
            WEIGHT, FISHER_SCALE, DENSITY, LAMBDA, DELTA0, BASE_FISHER_SCALE, RESCALE),
    /** Gradient matching whose per-model updates are dropped at random and rescaled as in DARE. */
    DARE_GRADIENT_MATCHING(true, true, "gradient matching with its per-model updates dropped and rescaled as DARE",
            WEIGHT, FISHER_SCALE, DENSITY, LAMBDA, DELTA0, BASE_FISHER_SCALE, RESCALE, RANDOM_SEED);

    private final boolean needsBase;
    private final boolean needsFishers;
    private final String summary;
    private final Set<Parameter> parameters;

    Method(boolean needsBase, boolean needsFishers, String summary, Parameter... parameters) {
        this.needsBase = needsBase;
        this.needsFishers = needsFishers;
        this.summary = summary;
        this.parameters = Collections.unmodifiableSet(EnumSet.copyOf(Arrays.asList(parameters)));
    }

    /** One line saying what the method computes, for {@code --help}. */
    public String summary() {
        return summary;
    }

    /** The parameters the method reads, in declaration order of {@link Parameter}. */
    public Set<Parameter> parameters() {
        return parameters;
    }

    public boolean reads(Parameter p) {
        return parameters.contains(p);
    }

    /** The default of a flag: {@code normalize} and {@code rescale} are the method's; other flags are off. */
    public boolean defaultFlag(Parameter p) {
        return switch (p) {
            case NORMALIZE -> normalizeDefault();
            case RESCALE -> rescaleDefault();
            default -> false;
        };
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
        return reads(Parameter.REMOVE);
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
