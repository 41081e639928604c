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
    /** The paper's rule: {@code θ0 + Σ α_t (P0 + s_t H_t)/Hbar (θ_t − θ0)}. */
    GRADIENT_MATCHING(true, true);

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
