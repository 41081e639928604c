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
    WEIGHT("weight", true, Kind.NUMBER, 1),
    FISHER_SCALE("fisher_scale", true, Kind.NUMBER, 1),
    DENSITY("density", true, Kind.NUMBER, 1),
    GAMMA("gamma", true, Kind.NUMBER, 0.01),
    EPSILON("epsilon", true, Kind.NUMBER, 0.15),
    LAMBDA("lambda", false, Kind.NUMBER, 1),
    DELTA0("delta0", false, Kind.NUMBER, 0),
    BASE_FISHER_SCALE("base_fisher_scale", false, Kind.NUMBER, 1),
    T("t", false, Kind.NUMBER, 0.5),
    /** Default: the method's ({@link MergeMethod#defaultFlag}). */
    NORMALIZE("normalize", false, Kind.FLAG, 0),
    /** Default: the method's ({@link MergeMethod#defaultFlag}). */
    RESCALE("rescale", false, Kind.FLAG, 0),
    RANDOM_SEED("random_seed", false, Kind.INTEGER, 0),
    FILTER_WISE("filter_wise", false, Kind.FLAG, 0),
    REMOVE("remove", false, Kind.FLAG, 0),
    CLAMP("clamp", false, Kind.SCALAR_NUMBER, 0.1),
    FISHER_FLOOR("fisher_floor", false, Kind.SCALAR_NUMBER, 0),
    /** multislerp: divide the weights by their sum. */
    NORMALIZE_WEIGHTS("normalize_weights", false, Kind.FLAG, 1),
    /** multislerp: the small constant added to norms. */
    EPS("eps", false, Kind.SCALAR_NUMBER, 1e-8);

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

    public Kind kind() {
        return kind;
    }

    /** The default of a number; flags' defaults are the method's (see {@link MergeMethod#defaultFlag}), here 1 for true. */
    public double defaultValue() {
        return defaultValue;
    }

    /** The parameter called {@code key} in a config, or null. */
    public static Parameter byKey(String key) {
        return Arrays.stream(values()).filter(p -> p.key.equals(key)).findFirst().orElse(null);
    }
}
