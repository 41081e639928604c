package ugm.cli.config;

import static ugm.core.merge.Method.FISHER;
import static ugm.core.merge.Method.FISHER_WITH_BASE;
import static ugm.core.merge.Method.GRADIENT_MATCHING;
import static ugm.core.merge.Method.LINEAR;
import static ugm.core.merge.Method.TASK_ARITHMETIC;
import static ugm.core.merge.Method.BREADCRUMBS;
import static ugm.core.merge.Method.BREADCRUMBS_TIES;
import static ugm.core.merge.Method.DARE_GRADIENT_MATCHING;
import static ugm.core.merge.Method.DARE_LINEAR;
import static ugm.core.merge.Method.DARE_TIES;
import static ugm.core.merge.Method.DELLA;
import static ugm.core.merge.Method.DELLA_LINEAR;
import static ugm.core.merge.Method.MODEL_STOCK;
import static ugm.core.merge.Method.NEARSWAP;
import static ugm.core.merge.Method.SLERP;
import static ugm.core.merge.Method.TIES;
import static ugm.core.merge.Method.TIES_GRADIENT_MATCHING;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import ugm.core.merge.Method;

/** The parameters ugm reads from a config's {@code parameters} maps, with where they may appear and what uses them. */
public enum Param {
    WEIGHT("weight", true, Kind.NUMBER, 1, EnumSet.allOf(Method.class)),
    FISHER_SCALE("fisher_scale", true, Kind.NUMBER, 1, EnumSet.of(FISHER, FISHER_WITH_BASE, GRADIENT_MATCHING,
            TIES_GRADIENT_MATCHING, DARE_GRADIENT_MATCHING)),
    DENSITY("density", true, Kind.NUMBER, 1, EnumSet.of(TIES, DARE_TIES, DARE_LINEAR, BREADCRUMBS, BREADCRUMBS_TIES,
            DELLA, DELLA_LINEAR, TIES_GRADIENT_MATCHING, DARE_GRADIENT_MATCHING)),
    GAMMA("gamma", true, Kind.NUMBER, 0.01, EnumSet.of(BREADCRUMBS, BREADCRUMBS_TIES)),
    EPSILON("epsilon", true, Kind.NUMBER, 0.15, EnumSet.of(DELLA, DELLA_LINEAR)),
    LAMBDA("lambda", false, Kind.NUMBER, 1, EnumSet.of(TASK_ARITHMETIC, GRADIENT_MATCHING, TIES, DARE_TIES, DARE_LINEAR,
            BREADCRUMBS, BREADCRUMBS_TIES, DELLA, DELLA_LINEAR, TIES_GRADIENT_MATCHING, DARE_GRADIENT_MATCHING)),
    DELTA0("delta0", false, Kind.NUMBER, 0, EnumSet.of(GRADIENT_MATCHING, TIES_GRADIENT_MATCHING, DARE_GRADIENT_MATCHING)),
    BASE_FISHER_SCALE("base_fisher_scale", false, Kind.NUMBER, 1, EnumSet.of(FISHER_WITH_BASE, GRADIENT_MATCHING,
            TIES_GRADIENT_MATCHING, DARE_GRADIENT_MATCHING)),
    T("t", false, Kind.NUMBER, 0.5, EnumSet.of(SLERP, NEARSWAP)),
    NORMALIZE("normalize", false, Kind.FLAG, 0, EnumSet.of(LINEAR, TASK_ARITHMETIC, TIES, DARE_TIES, DARE_LINEAR, BREADCRUMBS,
            BREADCRUMBS_TIES, DELLA, DELLA_LINEAR)),
    RESCALE("rescale", false, Kind.FLAG, 0, EnumSet.of(TIES, DARE_TIES, DARE_LINEAR, BREADCRUMBS, BREADCRUMBS_TIES,
            DELLA, DELLA_LINEAR, TIES_GRADIENT_MATCHING, DARE_GRADIENT_MATCHING)),
    RANDOM_SEED("random_seed", false, Kind.INTEGER, 0, EnumSet.of(DARE_TIES, DARE_LINEAR, DELLA, DELLA_LINEAR,
            DARE_GRADIENT_MATCHING)),
    FILTER_WISE("filter_wise", false, Kind.FLAG, 0, EnumSet.of(MODEL_STOCK)),
    REMOVE("remove", false, Kind.FLAG, 0, EnumSet.of(TASK_ARITHMETIC, GRADIENT_MATCHING)),
    CLAMP("clamp", false, Kind.SCALAR_NUMBER, 0.1, EnumSet.of(GRADIENT_MATCHING)),
    FISHER_FLOOR("fisher_floor", false, Kind.SCALAR_NUMBER, 0, EnumSet.of(FISHER, FISHER_WITH_BASE));

    /** What values a parameter takes. */
    public enum Kind {
        /** A number, a layer gradient or a filter list of those: may differ per tensor. */
        NUMBER,
        /** One number for the whole merge. */
        SCALAR_NUMBER,
        /** One whole number for the whole merge, read exactly (a seed): a 64-bit signed integer. */
        INTEGER,
        /** true or false, for the whole merge. */
        FLAG
    }

    /** mergekit parameters ugm does not need (int8_mask): accepted, ignored with a warning. */
    public static final Set<String> MERGEKIT_ONLY = Set.of("int8_mask");
    /** mergekit parameters that are given per model. */
    static final Set<String> MERGEKIT_PER_MODEL = Set.of();

    private final String key;
    private final boolean perModel;
    private final Kind kind;
    private final double defaultValue;
    private final Set<Method> methods;

    Param(String key, boolean perModel, Kind kind, double defaultValue, Set<Method> methods) {
        this.key = key;
        this.perModel = perModel;
        this.kind = kind;
        this.defaultValue = defaultValue;
        this.methods = methods;
    }

    /** The name in the config. */
    public String key() {
        return key;
    }

    /** Given per model (a model's parameters, with the global parameters as the default); else global only. */
    public boolean perModel() {
        return perModel;
    }

    public Kind kind() {
        return kind;
    }

    public double defaultValue() {
        return defaultValue;
    }

    public boolean appliesTo(Method m) {
        return methods.contains(m);
    }

    public static Param byKey(String key) {
        return Arrays.stream(values()).filter(p -> p.key.equals(key)).findFirst().orElse(null);
    }

    /** Every parameter name a config may use: ugm's and mergekit's. */
    public static Set<String> allKeys() {
        Set<String> s = new TreeSet<>(MERGEKIT_ONLY);
        Arrays.stream(values()).forEach(p -> s.add(p.key));
        return s;
    }

    /** The names of the parameters {@code m} reads. */
    public static List<String> keysOf(Method m) {
        return Arrays.stream(values()).filter(p -> p.appliesTo(m)).map(Param::key).toList();
    }
}
