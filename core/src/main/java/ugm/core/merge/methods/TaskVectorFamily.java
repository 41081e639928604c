package ugm.core.merge.methods;

import static ugm.core.merge.Parameter.BASE_FISHER_SCALE;
import static ugm.core.merge.Parameter.DELTA0;
import static ugm.core.merge.Parameter.DENSITY;
import static ugm.core.merge.Parameter.EPSILON;
import static ugm.core.merge.Parameter.FISHER_SCALE;
import static ugm.core.merge.Parameter.GAMMA;
import static ugm.core.merge.Parameter.LAMBDA;
import static ugm.core.merge.Parameter.NORMALIZE;
import static ugm.core.merge.Parameter.RANDOM_SEED;
import static ugm.core.merge.Parameter.RESCALE;
import static ugm.core.merge.Parameter.WEIGHT;

import java.util.Arrays;
import java.util.EnumSet;
import ugm.core.merge.MergeMethod;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;
import ugm.core.merge.methods.TaskVectorPass.Sparsifier;

/**
 * The task-vector family as mergekit's generalized task arithmetic: one class, parameterised by
 * how each model's vector is thinned (sparsifier), whether signs are elected (consensus), and
 * mergekit's defaults for {@code normalize} and {@code rescale}; and the sparsified
 * gradient-matching methods, whose vectors are gradient matching's per-model updates (see
 * docs/mergekit-methods.md and {@link TaskVectorPass}).
 */
final class TaskVectorFamily extends AbstractMergeMethod {
    static final TaskVectorFamily TIES = new TaskVectorFamily("ties",
            "task vectors trimmed to the --density largest |Δ|, sign election, mean of the agreeing",
            Sparsifier.MAGNITUDE, true, true, false, false);
    static final TaskVectorFamily DARE_TIES = new TaskVectorFamily("dare_ties",
            "task vectors with elements kept with probability --density, rescaled, sign election",
            Sparsifier.RANDOM, true, false, true, false);
    static final TaskVectorFamily DARE_LINEAR = new TaskVectorFamily("dare_linear",
            "as dare_ties, summed without sign election", Sparsifier.RANDOM, false, false, true, false);
    static final TaskVectorFamily BREADCRUMBS = new TaskVectorFamily("breadcrumbs",
            "task vectors without the --gamma largest and the smallest |Δ| (keeping --density), summed",
            Sparsifier.OUTLIERS, false, false, false, false);
    static final TaskVectorFamily BREADCRUMBS_TIES = new TaskVectorFamily("breadcrumbs_ties",
            "as breadcrumbs, with sign election", Sparsifier.OUTLIERS, true, false, false, false);
    static final TaskVectorFamily DELLA = new TaskVectorFamily("della",
            "as dare_ties, keep probability density ± --epsilon by |Δ| rank in each row",
            Sparsifier.DELLA, true, true, true, false);
    static final TaskVectorFamily DELLA_LINEAR = new TaskVectorFamily("della_linear",
            "as della, summed without sign election", Sparsifier.DELLA, false, false, true, false);
    static final TaskVectorFamily TIES_GRADIENT_MATCHING = new TaskVectorFamily("ties_gradient_matching",
            "gradient matching with its per-model updates trimmed and sign-elected as ties",
            Sparsifier.MAGNITUDE, true, false, false, true);
    static final TaskVectorFamily DARE_GRADIENT_MATCHING = new TaskVectorFamily("dare_gradient_matching",
            "gradient matching with its per-model updates dropped and rescaled as DARE",
            Sparsifier.RANDOM, false, false, true, true);

    private final Sparsifier sparsifier;
    private final boolean consensus;
    private final boolean normalizeDefault;
    private final boolean rescaleDefault;
    private final boolean gradientMatching;

    private TaskVectorFamily(String id, String summary, Sparsifier sparsifier, boolean consensus, boolean normalizeDefault,
                             boolean rescaleDefault, boolean gradientMatching) {
        super(id, summary, true, gradientMatching, parameters(sparsifier, gradientMatching));
        this.sparsifier = sparsifier;
        this.consensus = consensus;
        this.normalizeDefault = normalizeDefault;
        this.rescaleDefault = rescaleDefault;
        this.gradientMatching = gradientMatching;
    }

    /** What a family member reads: the weights, density, lambda, rescale, and what its sparsifier and vectors need. */
    private static Parameter[] parameters(Sparsifier sparsifier, boolean gradientMatching) {
        EnumSet<Parameter> p = EnumSet.of(WEIGHT, DENSITY, LAMBDA, RESCALE);
        if (gradientMatching) {
            p.addAll(Arrays.asList(FISHER_SCALE, DELTA0, BASE_FISHER_SCALE));
        } else {
            p.add(NORMALIZE);
        }
        if (sparsifier == Sparsifier.OUTLIERS) {
            p.add(GAMMA);
        }
        if (sparsifier == Sparsifier.DELLA) {
            p.add(EPSILON);
        }
        if (sparsifier == Sparsifier.RANDOM || sparsifier == Sparsifier.DELLA) {
            p.add(RANDOM_SEED);
        }
        return p.toArray(Parameter[]::new);
    }

    @Override
    public boolean defaultFlag(Parameter p) {
        return p == NORMALIZE ? normalizeDefault : p == RESCALE && rescaleDefault;
    }

    Sparsifier sparsifier() {
        return sparsifier;
    }

    boolean consensus() {
        return consensus;
    }

    /** Whether the vectors are gradient matching's per-model updates (else the task vectors). */
    boolean gradientMatching() {
        return gradientMatching;
    }

    @Override
    public Coefficients coefficients(TensorValues v) {
        return gradientMatching ? GradientMatchingMerge.gradientMatchingCoefficients(v) : super.coefficients(v);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        for (int i = 0; i < r.modelCount(); i++) {
            double density = Blocks.decimal(r.perModel(DENSITY, i).valueFor(tensor));
            if (!(density >= 0) || Double.isInfinite(density)) {
                return "density of model " + (i + 1) + " must be a finite number >= 0, not " + density;
            }
            if (density >= 1 || count == 0) {
                continue; // (an empty tensor has nothing to keep or drop)
            }
            String p = switch (sparsifier) {
                case MAGNITUDE -> (long) (density * count) > 0 ? null : "density " + density + " of model " + (i + 1)
                        + " keeps no element of its " + count + "; raise it to at least " + 1.0 / count;
                case OUTLIERS -> {
                    double gamma = Blocks.decimal(r.perModel(GAMMA, i).valueFor(tensor));
                    yield gamma >= 0 && gamma <= 1 ? null : "gamma of model " + (i + 1) + " must lie in [0, 1], not " + gamma;
                }
                case DELLA -> TaskVectorPass.dellaProblem(density, Blocks.decimal(r.perModel(EPSILON, i).valueFor(tensor)), i);
                default -> null;
            };
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        return prepare(r, t, ugm.core.kernel.Kernels.scalar());
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t, ugm.core.kernel.Kernels k) {
        return TaskVectorPass.prepare(this, r, t, k);
    }
}
