package ugm.core.merge.methods;

import java.util.Arrays;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;
import ugm.core.merge.TensorParameter;

/**
 * ram and ramplus_tl, mergekit's Reinforced Agent Merging over the task vectors
 * {@code τ_i = x_i − base} (in float, as mergekit): an element where {@code |τ_i| > epsilon} is a
 * change of model i; where c models change an element, {@code out = base + Σ τ_i/c} over them (c
 * = 1: the one change as it is; c = 0: the base). ramplus_tl scales a change no other model makes
 * by {@code λ_i = 1 + r·clamp(ρ_i, 0, alpha)}, {@code ρ_i = shared_i / max(unique_i, epsilon)},
 * counted over the whole tensor: unique_i the elements model i alone changes, shared_i those it
 * changes with others. A first pass counts them; the element pass mixes. The models' weights are
 * not read (mergekit's ram has none); epsilon is one number for all models, as mergekit reads it
 * from the top-level parameters.
 */
final class Ram extends AbstractMergeMethod {
    static final Ram RAM = new Ram(false);
    static final Ram RAMPLUS_TL = new Ram(true);

    /** mergekit's default epsilon for both. */
    private static final double EPSILON = 1e-5;

    private final boolean plus;

    private Ram(boolean plus) {
        super(plus ? "ramplus_tl" : "ram", plus
                ? "as ram, a change no other model makes scaled by 1 + r·clamp(shared/unique changes of its model in the tensor, 0, alpha)"
                : "per element, the mean of the task vectors larger than epsilon (the one such change, or the base where none)",
                true, false, plus ? new Parameter[] {Parameter.WEIGHT, Parameter.EPSILON, Parameter.R, Parameter.ALPHA}
                        : new Parameter[] {Parameter.WEIGHT, Parameter.EPSILON});
        this.plus = plus;
    }

    @Override
    public double defaultValue(Parameter p) {
        return p == Parameter.EPSILON ? EPSILON : p.defaultValue();
    }

    @Override
    public String requestProblem(MergeRequest r) {
        return problem(r, null);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        return problem(r, tensor);
    }

    /** The first parameter out of range for {@code tensor}; with null, the first constant one out of range for every tensor. */
    private String problem(MergeRequest r, String tensor) {
        Float first = null;
        for (int i = 0; i < r.modelCount(); i++) {
            Float e = value(r.perModel(Parameter.EPSILON, i), tensor);
            if (e == null) {
                continue;
            }
            if (!(e >= 0 && e < Float.POSITIVE_INFINITY)) {
                return id() + "'s epsilon must be a finite number >= 0, not " + e;
            }
            if (first == null) {
                first = e;
            } else if (first.floatValue() != e) {
                return id() + "'s epsilon is one number for all models (mergekit reads it from the top-level parameters), not "
                        + first + " and " + e;
            }
        }
        for (Parameter p : plus ? new Parameter[] {Parameter.R, Parameter.ALPHA} : new Parameter[0]) {
            Float v = value(r.global(p), tensor);
            if (v != null && !Float.isFinite(v)) {
                return id() + "'s " + p.key() + " must be a finite number, not " + v;
            }
        }
        return null;
    }

    /** The value for {@code tensor}; with null, the constant's value, or null when it depends on the tensor. */
    private static Float value(TensorParameter p, String tensor) {
        if (tensor != null) {
            return p.valueFor(tensor);
        }
        return p instanceof TensorParameter.Constant c ? c.value() : null;
    }

    @Override
    public boolean firstPass() {
        return plus;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        String name = t.output().name();
        int m = t.models().size();
        float epsilon = r.perModel(Parameter.EPSILON, 0).valueFor(name);
        double[] lambda = new double[m];
        Arrays.fill(lambda, 1);
        if (plus) {
            scales(t, epsilon, Blocks.decimal(r.global(Parameter.R).valueFor(name)),
                    Blocks.decimal(r.global(Parameter.ALPHA).valueFor(name)), lambda);
        }
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            for (int j = 0; j < n; j++) {
                int changed = 0;
                int only = -1;
                double sum = 0;
                for (int i = 0; i < m; i++) {
                    float tau = models[i][j] - base[j];
                    if (Math.abs(tau) > epsilon) {
                        changed++;
                        only = i;
                        sum += tau;
                    }
                }
                double merged = changed == 1 ? lambda[only] * sum : changed == 0 ? 0 : sum / changed;
                out[j] = (float) (base[j] + merged);
            }
            return 0;
        };
    }

    /**
     * ramplus_tl's {@code λ_i}, counted over the whole tensor. A model that changes no element alone
     * has no change to scale, whatever its ρ (mergekit's 0/0 there, with epsilon 0, is NaN).
     */
    private static void scales(TensorPlan t, float epsilon, double r, double alpha, double[] lambda) {
        int m = lambda.length;
        long count = t.output().elementCount();
        float[] base = new float[Blocks.BLOCK];
        float[][] x = new float[m][Blocks.BLOCK];
        long[] unique = new long[m];
        long[] shared = new long[m];
        boolean[] changes = new boolean[m];
        for (long at = 0; at < count; at += Blocks.BLOCK) {
            int n = (int) Math.min(Blocks.BLOCK, count - at);
            Blocks.decode(t.base(), at, n, base);
            for (int i = 0; i < m; i++) {
                Blocks.decode(t.models().get(i), at, n, x[i]);
            }
            for (int j = 0; j < n; j++) {
                int changed = 0;
                for (int i = 0; i < m; i++) {
                    changes[i] = Math.abs(x[i][j] - base[j]) > epsilon;
                    changed += changes[i] ? 1 : 0;
                }
                for (int i = 0; i < m; i++) {
                    if (changes[i]) {
                        unique[i] += changed == 1 ? 1 : 0;
                        shared[i] += changed > 1 ? 1 : 0;
                    }
                }
            }
        }
        for (int i = 0; i < m; i++) {
            if (unique[i] > 0) {
                double rho = shared[i] / Math.max((double) unique[i], epsilon);
                lambda[i] = 1 + r * Math.min(Math.max(rho, 0), alpha);
            }
        }
    }
}
