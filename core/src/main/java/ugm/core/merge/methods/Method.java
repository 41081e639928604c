package ugm.core.merge.methods;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import ugm.core.kernel.DirectKernel;
import ugm.core.merge.MergeMethod;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * The methods ugm ships, by name: the registry the command line, configs and {@code --help} read.
 * Each constant is its implementation (one class per method or family in this package); adding a
 * method is its class and one line here.
 *
 * <p>Constants, immutable: safe to use from any thread.
 */
public enum Method implements MergeMethod {
    /** {@code linear}: the weighted average of the models. */
    LINEAR(new Linear()),
    /** {@code task_arithmetic}: the base plus the weighted task vectors. */
    TASK_ARITHMETIC(new TaskArithmetic()),
    /** {@code fisher}: Fisher averaging. */
    FISHER(FisherAveraging.FISHER),
    /** {@code fisher_with_base}: Fisher averaging with the base as one more model. */
    FISHER_WITH_BASE(FisherAveraging.WITH_BASE),
    /** {@code gradient_matching}: uncertainty-based gradient matching (docs/method.md). */
    GRADIENT_MATCHING(new GradientMatchingMerge()),
    /** {@code ties}: task vectors trimmed to their largest values, signs elected. */
    TIES(TaskVectorFamily.TIES),
    /** {@code dare_ties}: task vectors dropped at random and rescaled, signs elected. */
    DARE_TIES(TaskVectorFamily.DARE_TIES),
    /** {@code dare_linear}: task vectors dropped at random and rescaled, summed. */
    DARE_LINEAR(TaskVectorFamily.DARE_LINEAR),
    /** {@code breadcrumbs}: task vectors without their largest and smallest values. */
    BREADCRUMBS(TaskVectorFamily.BREADCRUMBS),
    /** {@code breadcrumbs_ties}: breadcrumbs with sign election. */
    BREADCRUMBS_TIES(TaskVectorFamily.BREADCRUMBS_TIES),
    /** {@code della}: keep probabilities by magnitude rank in each row, signs elected. */
    DELLA(TaskVectorFamily.DELLA),
    /** {@code della_linear}: della without sign election. */
    DELLA_LINEAR(TaskVectorFamily.DELLA_LINEAR),
    /** {@code slerp}: spherical interpolation between the base and one model. */
    SLERP(new Slerp()),
    /** {@code model_stock}: the base and the models' average, weighted by their angle. */
    MODEL_STOCK(new ModelStock()),
    /** {@code nearswap}: the other model where it is within t of the base. */
    NEARSWAP(new Nearswap()),
    /** {@code ties_gradient_matching}: the gradient-matching updates trimmed and sign-elected. */
    TIES_GRADIENT_MATCHING(TaskVectorFamily.TIES_GRADIENT_MATCHING),
    /** {@code dare_gradient_matching}: the gradient-matching updates dropped at random and rescaled. */
    DARE_GRADIENT_MATCHING(TaskVectorFamily.DARE_GRADIENT_MATCHING),
    /** {@code multislerp}: the models' mean direction at their mean norm. */
    MULTISLERP(new Multislerp()),
    /** {@code passthrough}: one model's tensors, each times its scale. */
    PASSTHROUGH(new Passthrough()),
    /** {@code nuslerp}: spherical interpolation of two models (or their task vectors), by their weights. */
    NUSLERP(new Nuslerp()),
    /** {@code karcher}: the models' Karcher mean on the sphere, at their mean norm. */
    KARCHER(new Karcher()),
    /** {@code sce}: the task vectors' most varying elements, weighted by their mean square, signs elected. */
    SCE(new Sce()),
    /** {@code arcee_fusion}: the model's most important changes to the base. */
    ARCEE_FUSION(new ArceeFusion()),
    /** {@code ram}: per element, the mean of the models' changes to the base (the one change, where one model makes it). */
    RAM(Ram.RAM),
    /** {@code ramplus_tl}: ram with the changes one model alone makes scaled by its share of shared changes in the tensor. */
    RAMPLUS_TL(Ram.RAMPLUS_TL);

    private final MergeMethod impl;
    /** The implementation's parameters in {@link Parameter}'s order, so that messages list them stably. */
    private final Set<Parameter> parameters;

    Method(MergeMethod impl) {
        this.impl = impl;
        this.parameters = Collections.unmodifiableSet(EnumSet.copyOf(impl.parameters()));
        if (!impl.id().equals(name().toLowerCase(Locale.ROOT))) {
            throw new IllegalStateException(name() + " is implemented by " + impl.id());
        }
    }

    @Override
    public String id() {
        return impl.id();
    }

    @Override
    public String summary() {
        return impl.summary();
    }

    @Override
    public Set<Parameter> parameters() {
        return parameters;
    }

    @Override
    public boolean reads(Parameter p) {
        return parameters.contains(p);
    }

    @Override
    public boolean needsBase() {
        return impl.needsBase();
    }

    @Override
    public boolean needsFishers() {
        return impl.needsFishers();
    }

    @Override
    public boolean takesBase() {
        return impl.takesBase();
    }

    @Override
    public DirectKernel directKernel(boolean subtracts) {
        return impl.directKernel(subtracts);
    }

    @Override
    public boolean needsBaseFisher() {
        return impl.needsBaseFisher();
    }

    @Override
    public boolean defaultFlag(Parameter p) {
        return impl.defaultFlag(p);
    }

    @Override
    public boolean supportsRemove() {
        return impl.supportsRemove();
    }

    @Override
    public boolean baseAmongModels() {
        return impl.baseAmongModels();
    }

    @Override
    public String modelCountProblem(int models, boolean base) {
        return impl.modelCountProblem(models, base);
    }

    @Override
    public String weightsProblem(float[] weights, boolean normalize) {
        return impl.weightsProblem(weights, normalize);
    }

    @Override
    public Coefficients coefficients(TensorValues v) {
        return impl.coefficients(v);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        return impl.tensorProblem(r, tensor, count);
    }

    @Override
    public boolean copiesModel(MergeRequest r, String tensor) {
        return impl.copiesModel(r, tensor);
    }

    @Override
    public String requestProblem(MergeRequest r) {
        return impl.requestProblem(r);
    }

    @Override
    public double defaultValue(Parameter p) {
        return impl.defaultValue(p);
    }

    @Override
    public boolean firstPass() {
        return impl.firstPass();
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        return impl.prepare(r, t);
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t, ugm.core.kernel.Kernels k) {
        return impl.prepare(r, t, k);
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

    /** Every method's name, comma-separated, as configs and {@code --method} take them. */
    public static String ids() {
        return Arrays.stream(values()).map(Method::id).collect(Collectors.joining(", "));
    }

    /** The methods of the task-vector family, sparsified gradient matching included. */
    public static List<Method> taskVectorFamily() {
        return Arrays.stream(values()).filter(m -> m.impl instanceof TaskVectorFamily).toList();
    }

    @Override
    public String toString() {
        return id();
    }
}
