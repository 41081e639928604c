package ugm.demo;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import ugm.demo.Results.Removal;
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;
import ugm.demo.SoftmaxRegression.FisherKind;
import ugm.core.merge.MergeReport;
import ugm.core.merge.Method;

/**
 * The demo: train a base on the pretraining data, fine-tune one model per task from it under the
 * base's precision, train the joint target the same way, write everything as model folders,
 * merge them through the engine and score the merges against the target.
 */
final class Experiment {
    static final String EMPIRICAL_HESSIAN = "hessian-empirical";
    /** The λ values of the sweep: 0.2, 0.3, ..., 1.5. */
    static final double[] LAMBDAS = IntStream.rangeClosed(2, 15).mapToDouble(i -> i / 10.0).toArray();

    private final Setup setup;
    private final Path out;
    private final SoftmaxRegression model;
    private final Layout layout;
    private Suite suite;
    private Training joint;
    private double[] target;

    Experiment(Setup setup, Path out) {
        this.setup = setup;
        this.out = out;
        this.model = new SoftmaxRegression(setup.classes(), setup.features());
        this.layout = model.layout();
    }

    static String taskName(int t) {
        return "task-" + (t + 1);
    }

    Results run() {
        long start = System.nanoTime();
        suite = Suite.generate(setup);
        Path baseDir = out.resolve("base");
        double[] start0 = new double[model.size()];
        Training pretraining = Training.weightDecay(model, suite.pretrain(), setup.weightDecay());
        train(pretraining, start0, baseDir, "base: pretraining data");
        writeFishers(baseDir, Checkpoints.model(baseDir), suite.pretrain(), 0);
        double[] theta0 = Checkpoints.read(Checkpoints.model(baseDir), layout);
        double[] h0 = Checkpoints.read(Checkpoints.fisher(baseDir, Checkpoints.HESSIAN), layout);
        double[] p0 = new double[model.size()];
        for (int j = 0; j < p0.length; j++) {
            p0[j] = setup.weightDecay() + setup.pretrainSize() * h0[j];
        }

        List<Path> taskDirs = new ArrayList<>();
        float[] scales = new float[setup.tasks()];
        for (int t = 0; t < setup.tasks(); t++) {
            taskDirs.add(out.resolve(taskName(t)));
            scales[t] = setup.taskSizes()[t];
        }
        IntStream.range(0, setup.tasks()).parallel().forEach(t -> {
            Training fineTune = new Training(model, suite.taskTrain().get(t), p0, theta0);
            train(fineTune, theta0, taskDirs.get(t), "fine-tuned on task " + (t + 1));
            writeFishers(taskDirs.get(t), Checkpoints.model(taskDirs.get(t)), suite.taskTrain().get(t), t + 1);
        });
        joint = new Training(model, suite.allTaskTrain(), p0, theta0);
        Path targetDir = out.resolve("target");
        train(joint, theta0, targetDir, "target: trained jointly on all task data");
        target = Checkpoints.read(Checkpoints.model(targetDir), layout);

        double[] own = new double[setup.tasks()];
        for (int t = 0; t < setup.tasks(); t++) {
            own[t] = model.accuracy(Checkpoints.read(Checkpoints.model(taskDirs.get(t)), layout), suite.taskTest().get(t));
        }

        EngineMerge merge = new EngineMerge(baseDir, taskDirs, Checkpoints.HESSIAN, scales, setup.pretrainSize(),
                (float) setup.weightDecay());
        Map<String, Scores> methods = new LinkedHashMap<>();
        for (Method m : List.of(Method.LINEAR, Method.TASK_ARITHMETIC, Method.FISHER, Method.FISHER_WITH_BASE,
                Method.GRADIENT_MATCHING)) {
            methods.put(m.id(), score(merged(merge, m, 1f, false, out.resolve("merged-" + m.id()))));
        }
        methods.put("gradient_matching_empirical_fisher", score(merged(merge.withFisherFolder(EMPIRICAL_HESSIAN),
                Method.GRADIENT_MATCHING, 1f, false, out.resolve("merged-gradient_matching-empirical-fisher"))));

        List<SweepPoint> sweep = new ArrayList<>();
        for (double lambda : LAMBDAS) {
            String tag = String.format(Locale.ROOT, "lambda-%.1f", lambda);
            Path dir = out.resolve("sweep");
            sweep.add(new SweepPoint(lambda,
                    score(merged(merge, Method.TASK_ARITHMETIC, (float) lambda, false, dir.resolve("task_arithmetic-" + tag))),
                    score(merged(merge, Method.GRADIENT_MATCHING, (float) lambda, false, dir.resolve("gradient_matching-" + tag)))));
        }

        List<Removal> removal = new ArrayList<>();
        removal.add(removal("base", theta0, 0));
        for (Method m : List.of(Method.TASK_ARITHMETIC, Method.GRADIENT_MATCHING)) {
            Path dir = out.resolve("removed-" + taskName(0) + "-" + m.id());
            MergeReport report = merge.only(0).run(m, 1f, true, Checkpoints.model(dir));
            double[] theta = Checkpoints.read(Checkpoints.model(dir), layout);
            removal.add(new Removal(m.id(), 0, perTask(theta), model.accuracy(theta, suite.pretrainTest()),
                    report.clampedElements()));
        }
        return new Results(setup, out, score(theta0), score(target), own, methods, sweep, removal,
                (System.nanoTime() - start) / 1e9);
    }

    private void train(Training objective, double[] start, Path dir, String description) {
        Lbfgs.Result r = objective.fit(start, setup.maxIterations());
        Checkpoints.write(Checkpoints.model(dir), layout, r.theta(), description);
    }

    /** The true (sampled-label) and the empirical Fisher of the model in {@code modelFile}, on {@code data}. */
    private void writeFishers(Path dir, Path modelFile, Dataset data, int stream) {
        double[] theta = Checkpoints.read(modelFile, layout);
        SplittableRandom rng = new SplittableRandom(setup.seed() * 1_000_003L + stream);
        Checkpoints.write(Checkpoints.fisher(dir, Checkpoints.HESSIAN), layout,
                model.fisher(theta, data, FisherKind.SAMPLED, rng), "diagonal Fisher, labels sampled from the model");
        Checkpoints.write(Checkpoints.fisher(dir, EMPIRICAL_HESSIAN), layout,
                model.fisher(theta, data, FisherKind.EMPIRICAL, rng), "diagonal empirical Fisher, labels from the data");
    }

    private double[] merged(EngineMerge merge, Method m, float lambda, boolean remove, Path dir) {
        merge.run(m, lambda, remove, Checkpoints.model(dir));
        return Checkpoints.read(Checkpoints.model(dir), layout);
    }

    private double[] perTask(double[] theta) {
        double[] acc = new double[setup.tasks()];
        for (int t = 0; t < acc.length; t++) {
            acc[t] = model.accuracy(theta, suite.taskTest().get(t));
        }
        return acc;
    }

    private Scores score(double[] theta) {
        double[] acc = perTask(theta);
        double mean = 0;
        for (double a : acc) {
            mean += a / acc.length;
        }
        double dist = 0;
        for (int j = 0; j < theta.length; j++) {
            dist += (theta[j] - target[j]) * (theta[j] - target[j]);
        }
        return new Scores(acc, mean, Math.sqrt(dist), joint.gradientNorm(theta));
    }

    private Removal removal(String name, double[] theta, int task) {
        return new Removal(name, task, perTask(theta), model.accuracy(theta, suite.pretrainTest()), 0);
    }
}
