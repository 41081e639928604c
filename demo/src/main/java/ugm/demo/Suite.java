package ugm.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** The generated data: pretraining train/test, and each task's train and held-out splits. */
record Suite(Dataset pretrain, Dataset pretrainTest, List<Dataset> taskTrain, List<Dataset> taskTest) {

    static Suite generate(Setup s) {
        SplittableRandom rng = new SplittableRandom(s.seed());
        int d = s.features();
        double[][] prototypes = new double[s.classes()][];
        for (int k = 0; k < s.classes(); k++) {
            prototypes[k] = gaussian(rng, d, s.prototypeScale());
        }
        double perFeatureShift = s.domainShift() / Math.sqrt(d);
        int[] every = new int[s.classes()];
        for (int k = 0; k < every.length; k++) {
            every[k] = k;
        }
        Dataset pretrain = pretraining(rng, s, prototypes, every, s.pretrainSize(), perFeatureShift);
        Dataset pretrainTest = pretraining(rng, s, prototypes, every, s.pretrainTestSize(), perFeatureShift);
        List<Dataset> train = new ArrayList<>();
        List<Dataset> test = new ArrayList<>();
        for (int t = 0; t < s.tasks(); t++) {
            int[] classes = s.taskClasses(t);
            double[] offset = gaussian(rng, d, perFeatureShift);
            double[][] means = new double[classes.length][];
            for (int j = 0; j < classes.length; j++) {
                double[] shift = gaussian(rng, d, s.classShift() / Math.sqrt(d));
                means[j] = new double[d];
                for (int i = 0; i < d; i++) {
                    means[j][i] = prototypes[classes[j]][i] + offset[i] + shift[i];
                }
            }
            train.add(draw(rng, s, means, classes, s.taskSizes()[t], null, 0));
            test.add(draw(rng, s, means, classes, s.taskTestSize(), null, 0));
        }
        return new Suite(pretrain, pretrainTest, List.copyOf(train), List.copyOf(test));
    }

    /** The joint training set: every task's training split. */
    Dataset allTaskTrain() {
        Dataset all = taskTrain.get(0);
        for (int t = 1; t < taskTrain.size(); t++) {
            all = all.concat(taskTrain.get(t));
        }
        return all;
    }

    private static Dataset pretraining(SplittableRandom rng, Setup s, double[][] prototypes, int[] classes, int n,
                                       double perFeatureShift) {
        return draw(rng, s, prototypes, classes, n, rng, perFeatureShift);
    }

    /**
     * n examples with classes cycling through {@code classes} (balanced), each at its mean
     * ({@code means[j]} for {@code classes[j]}) plus
     * Gaussian noise, plus, when {@code offsets} is given, a fresh random domain offset per example.
     */
    private static Dataset draw(SplittableRandom rng, Setup s, double[][] means, int[] classes, int n,
                                SplittableRandom offsets, double perFeatureShift) {
        int d = s.features();
        double[] x = new double[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            int j = i % classes.length;
            y[i] = classes[j];
            double[] mean = means[j];
            double[] offset = offsets == null ? null : gaussian(offsets, d, perFeatureShift);
            for (int f = 0; f < d; f++) {
                x[i * d + f] = mean[f] + s.noise() * rng.nextGaussian() + (offset == null ? 0 : offset[f]);
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
