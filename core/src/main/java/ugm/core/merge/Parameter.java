package ugm.core.merge;

import java.util.Arrays;

/**
 * The parameters of the merge methods, as a config's {@code parameters} maps and the command line
 * name them, with their defaults. Which method reads which is declared by each {@link MergeMethod}; this
 * and that are the only places either is written down.
 *
 * <p>Constants: safe to use from any thread.
 */
public enum Parameter {
    /** {@code weight}: a model's weight. */
    WEIGHT("weight", true, Kind.NUMBER, 1),
    /** {@code fisher_scale}: the factor of a model's stored Fisher. */
    FISHER_SCALE("fisher_scale", true, Kind.NUMBER, 1),
    /** {@code density}: the fraction of a task vector kept. */
    DENSITY("density", true, Kind.NUMBER, 1),
    /** {@code gamma}: breadcrumbs' fraction of largest magnitudes dropped. */
    GAMMA("gamma", true, Kind.NUMBER, 0.01),
    /** {@code epsilon}: della's half-width of the keep probabilities; ram's smallest change (its default 1e-5, {@link MergeMethod#defaultValue}). */
    EPSILON("epsilon", true, Kind.NUMBER, 0.15),
    /** {@code lambda}: the factor of every task weight. */
    LAMBDA("lambda", false, Kind.NUMBER, 1),
    /** {@code delta0}: gradient matching's prior precision. */
    DELTA0("delta0", false, Kind.NUMBER, 0),
    /** {@code base_fisher_scale}: the factor of the base's stored Fisher. */
    BASE_FISHER_SCALE("base_fisher_scale", false, Kind.NUMBER, 1),
    /** {@code t}: slerp's and nearswap's interpolation parameter. */
    T("t", false, Kind.NUMBER, 0.5),
    /** Default: the method's ({@link MergeMethod#defaultFlag}). */
    NORMALIZE("normalize", false, Kind.FLAG, 0),
    /** Default: the method's ({@link MergeMethod#defaultFlag}). */
    RESCALE("rescale", false, Kind.FLAG, 0),
    /** {@code random_seed}: the seed of the random sparsifiers. */
    RANDOM_SEED("random_seed", false, Kind.INTEGER, 0),
    /** {@code filter_wise}: model_stock per row. */
    FILTER_WISE("filter_wise", false, Kind.FLAG, 0),
    /** {@code remove}: subtract the tasks. */
    REMOVE("remove", false, Kind.FLAG, 0),
    /** {@code clamp}: the floor of Hbar, relative to P0, when removing. */
    CLAMP("clamp", false, Kind.SCALAR_NUMBER, 0.1),
    /** {@code fisher_floor}: the floor of every scaled Fisher in Fisher averaging. */
    FISHER_FLOOR("fisher_floor", false, Kind.SCALAR_NUMBER, 0),
    /** multislerp: divide the weights by their sum. */
    NORMALIZE_WEIGHTS("normalize_weights", false, Kind.FLAG, 1),
    /** multislerp: the small constant added to norms. */
    EPS("eps", false, Kind.SCALAR_NUMBER, 1e-8),
    /** passthrough: the factor the model's tensor is multiplied by. */
    SCALE("scale", true, Kind.NUMBER, 1),
    /** nuslerp: interpolate the whole tensor as one vector (else vectors along one dimension). */
    NUSLERP_FLATTEN("nuslerp_flatten", false, Kind.FLAG, 1),
    /** nuslerp without flattening: the vectors along the first dimension instead of the last. */
    NUSLERP_ROW_WISE("nuslerp_row_wise", false, Kind.FLAG, 0),
    /** karcher: the most iterations of the mean (a whole number). */
    MAX_ITER("max_iter", false, Kind.SCALAR_NUMBER, 10),
    /** karcher: below this a norm, an angle or a step counts as zero. */
    TOL("tol", false, Kind.SCALAR_NUMBER, 1e-5),
    /** sce: the fraction of the elements whose task vectors vary most across the models that are kept. */
    SELECT_TOPK("select_topk", false, Kind.NUMBER, 1),
    /** ramplus_tl: the factor of the clamped ratio of shared to unique changes. */
    R("r", false, Kind.NUMBER, 0.1),
    /** ramplus_tl: the clamp of the ratio of shared to unique changes. */
    ALPHA("alpha", false, Kind.NUMBER, 0.2);

    /** What values a parameter takes. */
    public enum Kind {
        /** A number that may differ per tensor (a config writes a layer gradient or a filter list of those). */
        NUMBER,
        /** One number for the whole merge. */
        SCALAR_NUMBER,
        /** One whole number for the whole merge, read exactly (a seed): a 64-bit signed integer. */
        INTEGER,
        /** true or false, for the whole merge. */
        FLAG
    }

    private final String key;
    private final boolean perModel;
    private final Kind kind;
    private final double defaultValue;

    Parameter(String key, boolean perModel, Kind kind, double defaultValue) {
        this.key = key;
        this.perModel = perModel;
        this.kind = kind;
        this.defaultValue = defaultValue;
    }

    /** The name in a config. */
    public String key() {
        return key;
    }

    /** Given per model (a model's own setting, with the global one as its default); else global only. */
    public boolean perModel() {
        return perModel;
    }

    /** What values the parameter takes. */
    public Kind kind() {
        return kind;
    }

    /** The default of a number (a method may have its own: {@link MergeMethod#defaultValue}); flags' defaults are the method's (see {@link MergeMethod#defaultFlag}), here 1 for true. */
    public double defaultValue() {
        return defaultValue;
    }

    /** The parameter called {@code key} in a config, or null. */
    public static Parameter byKey(String key) {
        return Arrays.stream(values()).filter(p -> p.key.equals(key)).findFirst().orElse(null);
    }
}
