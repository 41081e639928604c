package ugm.core.merge.methods;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
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
    LINEAR(new Linear()),
    TASK_ARITHMETIC(new TaskArithmetic()),
    FISHER(FisherAveraging.FISHER),
    FISHER_WITH_BASE(FisherAveraging.WITH_BASE),
    GRADIENT_MATCHING(new GradientMatchingMerge()),
    TIES(TaskVectorFamily.TIES),
    DARE_TIES(TaskVectorFamily.DARE_TIES),
    DARE_LINEAR(TaskVectorFamily.DARE_LINEAR),
    BREADCRUMBS(TaskVectorFamily.BREADCRUMBS),
    BREADCRUMBS_TIES(TaskVectorFamily.BREADCRUMBS_TIES),
    DELLA(TaskVectorFamily.DELLA),
    DELLA_LINEAR(TaskVectorFamily.DELLA_LINEAR),
    SLERP(new Slerp()),
    MODEL_STOCK(new ModelStock()),
    NEARSWAP(new Nearswap()),
    TIES_GRADIENT_MATCHING(TaskVectorFamily.TIES_GRADIENT_MATCHING),
    DARE_GRADIENT_MATCHING(TaskVectorFamily.DARE_GRADIENT_MATCHING),
    MULTISLERP(new Multislerp());

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
    public String modelCountProblem(int models) {
        return impl.modelCountProblem(models);
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
    public boolean firstPass() {
        return impl.firstPass();
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        return impl.prepare(r, t);
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

    /** The methods of the task-vector family, sparsified gradient matching included. */
    public static List<Method> taskVectorFamily() {
        return Arrays.stream(values()).filter(m -> m.impl instanceof TaskVectorFamily).toList();
    }

    @Override
    public String toString() {
        return id();
    }
}
