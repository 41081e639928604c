package ugm.core.merge.methods;

import ugm.core.kernel.Formulas;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * fisher: {@code Σ w_t F_t θ_t / Σ w_t F_t} with {@code F_t = max(s_t H_t, floor)}; fisher_with_base
 * counts the base, with its Fisher {@code s0 H0}, as one more model of weight 1.
 */
final class FisherAveraging extends AbstractMergeMethod {
    static final FisherAveraging FISHER = new FisherAveraging(false);
    static final FisherAveraging WITH_BASE = new FisherAveraging(true);

    private final boolean withBase;

    private FisherAveraging(boolean withBase) {
        super(withBase ? "fisher_with_base" : "fisher",
                withBase ? "as fisher, with the base and its Fisher as one more model of weight 1" : "Σ w_t s_t H_t θ_t / Σ w_t s_t H_t",
                withBase, true, withBase
                        ? new Parameter[] {Parameter.WEIGHT, Parameter.FISHER_SCALE, Parameter.BASE_FISHER_SCALE, Parameter.FISHER_FLOOR}
                        : new Parameter[] {Parameter.WEIGHT, Parameter.FISHER_SCALE, Parameter.FISHER_FLOOR});
        this.withBase = withBase;
    }

    @Override
    public boolean needsBaseFisher() {
        return withBase;
    }

    /**
     * Where every Fisher of an element is 0 (or the weighted Fishers cancel), the element takes
     * the plain weighted average, which divides by the sum of the weights (plus 1 for the base):
     * a sum of 0 makes it undefined, so such weights are refused, as linear refuses them. The sum
     * is checked as the kernels add it (float32) and exactly.
     */
    @Override
    public String weightsProblem(float[] weights, boolean normalize) {
        double exact = withBase ? 1 : 0;
        for (float w : weights) {
            exact += w;
        }
        float asAdded = (withBase ? 1f : 0f) + Formulas.sum(weights);
        if (exact != 0 && asAdded != 0f) {
            return null;
        }
        return withBase ? "fisher_with_base needs weights that do not sum to -1: the base counts as one more model of weight 1,"
                + " and where every Fisher of an element is 0 the element is (θ0 + Σ w_t·θ_t) / (1 + Σ w_t)"
                : "fisher needs weights that do not sum to 0: where every Fisher of an element is 0 the element is"
                + " Σ w_t·θ_t / Σ w_t";
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        Coefficients c = t.coefficients();
        if (withBase) {
            return (k, from, n, base, models, fishers, baseFisher, out) -> {
                k.fisherWithBase(base, baseFisher, c.baseScale(), models, fishers, c.alphas(), c.scales(), c.floor(), out, n);
                return 0;
            };
        }
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            k.fisher(models, fishers, c.alphas(), c.scales(), c.floor(), out, n);
            return 0;
        };
    }
}
