package ugm.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import ugm.demo.SoftmaxRegression.FisherKind;

/**
 * The experiment's fixed design, whatever the data: a softmax regression of {@code classes ×
 * features} (plus biases), a base trained on {@code pretrainSize} examples with L2 penalty
 * {@code weightDecay} (δ0, on the summed loss, also the merges' {@code delta0}), and one model
 * fine-tuned per task on {@code taskSizes[t]} examples.
 *
 * @param source      where the examples come from (built-in synthetic data or images)
 * @param fisher      how the stored Fishers ({@code hessian/}) are computed
 * @param lambdas     the λ grid of the sweep (task arithmetic and gradient matching)
 * @param fullHessian whether to add the gradient-matching line with full (dense) task Hessians
 */
record Setup(Source source, long seed, int classes, int features, List<String> taskNames, int pretrainSize,
             int[] taskSizes, double weightDecay, int maxIterations, FisherKind fisher, double[] lambdas,
             boolean fullHessian) {

    /**
     * The λ grid of the removal sweep: 0.1 ... 1 in steps of 0.1, then up to 4, far enough for
     * task arithmetic to forget as much as gradient matching does at small λ.
     */
    static final double[] REMOVAL_LAMBDAS = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2, 2.5, 3, 4};

    /** The largest model whose dense Hessian the demo will form (1,970 parameters for 14×14 pooled images). */
    static final int FULL_HESSIAN_LIMIT = 4000;

    Setup {
        taskNames = List.copyOf(taskNames);
        taskSizes = taskSizes.clone();
        lambdas = lambdas.clone();
        if (taskSizes.length != taskNames.size()) {
            throw new IllegalArgumentException(taskSizes.length + " task sizes for " + taskNames.size() + " tasks");
        }
        if (fullHessian && classes * (features + 1) > FULL_HESSIAN_LIMIT) {
            throw new IllegalArgumentException("a dense Hessian of " + classes * (features + 1) + " parameters is too large");
        }
    }

    /** The built-in data, as in the README: 16 classes, 128 features (2,064 parameters), 5 tasks. */
    static Setup standard(long seed) {
        return synthetic(SyntheticData.STANDARD, seed, 16, 128, 4000, new int[] {1500, 1000, 700, 500, 300}, 1000);
    }

    /** A smaller version for tests: 8 classes, 24 features, 4 tasks. */
    static Setup quick(long seed) {
        return synthetic(SyntheticData.QUICK, seed, 8, 24, 800, new int[] {300, 200, 150, 100}, 400);
    }

    private static Setup synthetic(SyntheticData data, long seed, int classes, int features, int pretrain, int[] sizes,
                                   int maxIterations) {
        List<String> names = new ArrayList<>();
        for (int t = 0; t < sizes.length; t++) {
            names.add("task" + (t + 1));
        }
        // The sweep's λ grid: 0.2, 0.3, ..., 1.5.
        double[] lambdas = IntStream.rangeClosed(2, 15).mapToDouble(i -> i / 10.0).toArray();
        return new Setup(data, seed, classes, features, names, pretrain, sizes, 1.0, maxIterations, FisherKind.EXACT,
                lambdas, true);
    }

    Setup withSeed(long s) {
        return new Setup(source, s, classes, features, taskNames, pretrainSize, taskSizes, weightDecay, maxIterations,
                fisher, lambdas, fullHessian);
    }

    Setup withFisher(FisherKind kind) {
        return new Setup(source, seed, classes, features, taskNames, pretrainSize, taskSizes, weightDecay, maxIterations,
                kind, lambdas, fullHessian);
    }

    int tasks() {
        return taskSizes.length;
    }

    int parameters() {
        return classes * (features + 1);
    }

    /** The index of λ = 1 in {@link #lambdas()}. */
    int lambdaOne() {
        return indexOfOne(lambdas);
    }

    static int indexOfOne(double[] grid) {
        for (int i = 0; i < grid.length; i++) {
            if (Math.abs(grid[i] - 1) < 1e-9) {
                return i;
            }
        }
        throw new IllegalStateException("the lambda grid lacks 1");
    }

    @Override
    public int[] taskSizes() {
        return taskSizes.clone();
    }

    @Override
    public double[] lambdas() {
        return lambdas.clone();
    }
}
