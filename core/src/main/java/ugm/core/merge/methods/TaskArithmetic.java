package ugm.core.merge.methods;

import ugm.core.kernel.DirectKernel;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * task_arithmetic: {@code θ0 + Σ λ·w_t (θ_t − θ0)}; with normalize the weights are first divided
 * by their sum (a sum under 1e-8 in size counts as 1, as mergekit); remove negates the alphas.
 * Where the base, the models and the output are BF16, F16 or F32 the direct kernel merges in one
 * pass ({@link LinearFamilyDirect}), removal too.
 */
final class TaskArithmetic extends AbstractMergeMethod {
    TaskArithmetic() {
        super("task_arithmetic", "θ0 + Σ lambda·weight_t (θ_t − θ0)", true, false,
                Parameter.WEIGHT, Parameter.LAMBDA, Parameter.NORMALIZE, Parameter.REMOVE);
    }

    @Override
    public Coefficients coefficients(TensorValues v) {
        float[] w = v.weights().clone();
        if (v.normalize()) {
            double sum = 0;
            for (float x : w) {
                sum += x;
            }
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (w[i] / (Math.abs(sum) < 1e-8 ? 1 : sum));
            }
        }
        float[] alphas = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            float a = v.lambda() * w[i];
            alphas[i] = v.remove() ? -a : a;
        }
        return new Coefficients(w.clone(), alphas, v.scales(), v.baseScale(), v.floor(), null);
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        float[] a = t.coefficients().alphas();
        return LinearFamilyDirect.of(t, true, a, (k, from, n, base, models, fishers, baseFisher, out) -> {
            k.taskArithmetic(base, models, a, out, n);
            return 0;
        });
    }

    @Override
    public DirectKernel directKernel(boolean subtracts) {
        return DirectKernel.LINEAR;
    }
}
