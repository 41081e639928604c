package ugm.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The built-in data. Class prototypes are Gaussian; pretraining draws every class, each example
 * under a random domain offset; task t draws only its window of classes, under its own offset
 * plus a per-class shift, so tasks share classes but place them differently.
 *
 * @param classesPerTask   how many classes each task draws
 * @param classStride      task t's window starts at class {@code t·classStride}
 * @param prototypeScale   per-feature standard deviation of the class prototypes
 * @param domainShift      norm of a domain offset (pretraining draws one per example, tasks one each)
 * @param classShift       norm of a task's extra shift of each of its classes
 * @param pretrainTestSize held-out pretraining examples
 * @param taskTestSize     held-out examples per task
 * @param validationSize   validation examples per task (drawn last, so the other draws do not depend on it)
 */
record SyntheticData(int classesPerTask, int classStride, double prototypeScale, double noise, double domainShift,
                     double classShift, int pretrainTestSize, int taskTestSize, int validationSize) implements Source {

    static final SyntheticData STANDARD = new SyntheticData(6, 3, 0.25, 1.0, 2.0, 1.5, 1000, 600, 300);
    static final SyntheticData QUICK = new SyntheticData(4, 2, 0.5, 1.0, 2.0, 1.5, 300, 200, 100);

    @Override
    public String name() {
        return "synthetic";
    }

    @Override
    public String describe(Setup s) {
        StringBuilder b = new StringBuilder("Built-in synthetic data: each task draws a window of " + classesPerTask
                + " classes, shifted per task and per class;");
        b.append(String.format("%nheld-out split %,d examples per task, validation %,d.", taskTestSize, validationSize));
        return b.toString();
    }

    /** The classes task t draws: a window of {@code classesPerTask} starting at {@code t·classStride}. */
    int[] taskClasses(Setup s, int t) {
        int[] c = new int[classesPerTask];
        for (int j = 0; j < classesPerTask; j++) {
            c[j] = (t * classStride + j) % s.classes();
        }
        return c;
    }

    @Override
    public Suite suite(Setup s) {
        SplittableRandom rng = new SplittableRandom(s.seed());
        int d = s.features();
        double[][] prototypes = new double[s.classes()][];
        for (int k = 0; k < s.classes(); k++) {
            prototypes[k] = gaussian(rng, d, prototypeScale);
        }
        double perFeatureShift = domainShift / Math.sqrt(d);
        int[] every = new int[s.classes()];
        for (int k = 0; k < every.length; k++) {
            every[k] = k;
        }
        Dataset pretrain = draw(rng, d, prototypes, every, s.pretrainSize(), rng, perFeatureShift);
        Dataset pretrainTest = draw(rng, d, prototypes, every, pretrainTestSize, rng, perFeatureShift);
        List<Dataset> train = new ArrayList<>();
        List<Dataset> test = new ArrayList<>();
        List<double[][]> taskMeans = new ArrayList<>();
        for (int t = 0; t < s.tasks(); t++) {
            int[] classes = taskClasses(s, t);
            double[] offset = gaussian(rng, d, perFeatureShift);
            double[][] means = new double[classes.length][];
            for (int j = 0; j < classes.length; j++) {
                double[] shift = gaussian(rng, d, classShift / Math.sqrt(d));
                means[j] = new double[d];
                for (int i = 0; i < d; i++) {
                    means[j][i] = prototypes[classes[j]][i] + offset[i] + shift[i];
                }
            }
            taskMeans.add(means);
            train.add(draw(rng, d, means, classes, s.taskSizes()[t], null, 0));
            test.add(draw(rng, d, means, classes, taskTestSize, null, 0));
        }
        List<Dataset> validation = new ArrayList<>();
        for (int t = 0; t < s.tasks(); t++) {
            validation.add(draw(rng, d, taskMeans.get(t), taskClasses(s, t), validationSize, null, 0));
        }
        return new Suite(pretrain, pretrainTest, train, validation, test);
    }

    /**
     * n examples with classes cycling through {@code classes} (balanced), each at its mean
     * ({@code means[j]} for {@code classes[j]}) plus Gaussian noise, plus, when {@code offsets} is
     * given, a fresh random domain offset per example.
     */
    private Dataset draw(SplittableRandom rng, int d, double[][] means, int[] classes, int n, SplittableRandom offsets,
                         double perFeatureShift) {
        double[] x = new double[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            int j = i % classes.length;
            y[i] = classes[j];
            double[] mean = means[j];
            double[] offset = offsets == null ? null : gaussian(offsets, d, perFeatureShift);
            for (int f = 0; f < d; f++) {
                x[i * d + f] = mean[f] + noise * rng.nextGaussian() + (offset == null ? 0 : offset[f]);
            }
        }
        return new Dataset(x, y, d);
    }

    private static double[] gaussian(SplittableRandom rng, int n, double sd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = sd * rng.nextGaussian();
        }
        return v;
    }
}
