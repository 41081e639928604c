package ugm.core.merge.methods;

import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * passthrough: the one model's tensors as they are, each multiplied by its {@code scale} where one
 * is given (mergekit's passthrough; its {@code weight} is not read). Exactly one model; no first pass.
 * Without a scale the tensors are copied byte for byte.
 */
final class Passthrough extends AbstractMergeMethod {
    Passthrough() {
        super("passthrough", "the one model's tensors, each times its scale (default 1)", false, false,
                Parameter.WEIGHT, Parameter.SCALE);
    }

    @Override
    public String modelCountProblem(int models, boolean base) {
        return models == 1 ? null : "passthrough copies exactly one model, not " + models;
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        float scale = r.perModel(Parameter.SCALE, 0).valueFor(tensor);
        return Float.isFinite(scale) ? null : "passthrough's scale must be a finite number, not " + scale;
    }

    /** Scale 1: the model's bytes, copied (a product would round F64 to float and quiet NaNs). */
    @Override
    public boolean copiesModel(MergeRequest r, String tensor) {
        return r.perModel(Parameter.SCALE, 0).valueFor(tensor) == 1f;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        float[] scale = {r.perModel(Parameter.SCALE, 0).valueFor(t.output().name())};
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            k.linear(models, scale, out, n);
            return 0;
        };
    }
}
