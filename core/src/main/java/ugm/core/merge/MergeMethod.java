package ugm.core.merge;

import java.util.Set;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * A merge method: what it needs, the parameters it reads, and how it computes a tensor. The
 * engine plans a merge from these answers ({@link MergePlan}) and runs {@link #prepare} for every
 * tensor ({@link Merger}); the methods ugm ships are listed in {@link ugm.core.merge.methods.Method}.
 * An element-wise method is one class: its coefficients and an element kernel.
 * Implementations are immutable and thread-safe.
 */
public interface MergeMethod {

    /** The name users write: {@code gradient_matching}. */
    String id();

    /** One line saying what the method computes, for {@code --help}. */
    String summary();

    /** The parameters the method reads. */
    Set<Parameter> parameters();

    /** Whether the method reads parameter {@code p}. */
    default boolean reads(Parameter p) {
        return parameters().contains(p);
    }

    /** Whether the method needs a base model. */
    boolean needsBase();

    /** Whether the base is used where one is given (the default: where it is needed). */
    default boolean takesBase() {
        return needsBase();
    }

    /**
     * The direct kernel the method's tensors use where they are all BF16 ({@link TensorMerge#directKernel()}),
     * or null: what a warm-up started before the merge is planned should compile. {@code subtracts}:
     * the merge subtracts tasks ({@code remove}).
     */
    default DirectKernel directKernel(boolean subtracts) {
        return null;
    }

    /** Whether the method needs a Fisher for every model. */
    boolean needsFishers();

    /** Whether a base Fisher is required (not just used where given). */
    default boolean needsBaseFisher() {
        return false;
    }

    /** The default of a flag ({@code normalize}, {@code rescale}); mergekit's, per method. */
    default boolean defaultFlag(Parameter p) {
        return false;
    }

    /** Whether {@code remove} (task negation) applies. */
    default boolean supportsRemove() {
        return reads(Parameter.REMOVE);
    }

    /** Whether a config lists the base among the models (mergekit's slerp and nearswap); that entry is the base. */
    default boolean baseAmongModels() {
        return false;
    }

    /** What is wrong with merging {@code models} models besides the base ({@code base}: whether one is given), or null. */
    default String modelCountProblem(int models, boolean base) {
        return null;
    }

    /** What is wrong with these weights (all known), or null: linear cannot divide by a sum of 0. */
    default String weightsProblem(float[] weights, boolean normalize) {
        return null;
    }

    /**
     * The tensor's coefficients from its parameter values (checked before). The default: weights
     * and alphas are the weights.
     */
    default Coefficients coefficients(TensorValues v) {
        return new Coefficients(v.weights().clone(), v.weights().clone(), v.scales(), v.baseScale(), v.floor(), null);
    }

    /**
     * A parameter of {@code r} out of range whatever the tensor (a constant), or null: checked when
     * the request is built, before any tensor is planned.
     */
    default String requestProblem(MergeRequest r) {
        return null;
    }

    /** The default of number {@code p} for this method: the parameter's own, unless the method's differs (ram's epsilon). */
    default double defaultValue(Parameter p) {
        return p.defaultValue();
    }

    /** A parameter of {@code r} out of range for tensor {@code tensor} of {@code count} elements, or null. */
    default String tensorProblem(MergeRequest r, String tensor, long count) {
        return null;
    }

    /**
     * Whether the merged tensor is the one model's tensor as it is: the plan then copies its bytes
     * where the output dtype is the model's (exact for every dtype, NaN payloads included). The
     * default: never.
     */
    default boolean copiesModel(MergeRequest r, String tensor) {
        return false;
    }

    /**
     * Whether computing a tensor starts with a pass over its inputs (a threshold, a norm): then
     * {@link #prepare} runs once per tensor on the worker that first reaches it. Else it runs at
     * planning, cheaply.
     */
    default boolean firstPass() {
        return false;
    }

    /** How to compute tensor {@code t}: the element pass, after any first pass over the inputs. */
    TensorMerge prepare(MergeRequest r, TensorPlan t);

    /**
     * {@link #prepare(MergeRequest, TensorPlan)} on a worker that runs kernels {@code k} now (the
     * scalar twin, or the vector kernels once the run's policy has switched): a first pass may
     * decode its inputs with them. The default does not use them.
     */
    default TensorMerge prepare(MergeRequest r, TensorPlan t, Kernels k) {
        return prepare(r, t);
    }

    /**
     * One tensor's parameter values.
     *
     * @param weights   w_t, one per model
     * @param scales    s_t, one per model (Fisher scales)
     * @param lambda    the global factor
     * @param baseScale s0
     * @param delta0    δ0
     * @param normalize whether to divide by the sum of the weights
     * @param remove    subtract the tasks
     * @param clampRel  removal's clamp
     * @param floor     the Fisher floor
     */
    record TensorValues(float[] weights, float[] scales, float lambda, float baseScale, float delta0, boolean normalize,
                        boolean remove, float clampRel, float floor) {
    }
}
