package ugm.demo;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import ugm.core.exec.ChunkExecutor;
import ugm.core.merge.MergeReport;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;
import ugm.demo.Results.Removal;
import ugm.demo.Results.RemovalPoint;
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;
import ugm.demo.SoftmaxRegression.FisherKind;

/**
 * The demo: train a base on the pretraining data, fine-tune one model per task from it under the
 * base's precision, train the joint target the same way, write everything as model folders,
 * merge them through the engine and score the merges against the target.
 */
final class Experiment {
    static final String EMPIRICAL_HESSIAN = "hessian-empirical";
    /** The removal clamp the engine applies by default (Hbar ≥ clamp·P0), to locate the elements it clamps. */
    static final float CLAMP = (float) Parameter.CLAMP.defaultValue();

    private final Setup setup;
    private final Path out;
    private final ChunkExecutor executor;
    private final SoftmaxRegression model;
    private final Layout layout;
    private Suite suite;
    private Training joint;
    private double[] target;

    Experiment(Setup setup, Path out, ChunkExecutor executor) {
        this.setup = setup;
        this.out = out;
        this.executor = executor;
        this.model = new SoftmaxRegression(setup.classes(), setup.features());
        this.layout = model.layout();
    }

    static String taskName(int t) {
        return "task-" + (t + 1);
    }

    static String lambdaTag(double lambda) {
        return String.format(Locale.ROOT, Math.abs(lambda * 10 - Math.rint(lambda * 10)) < 1e-9 ? "lambda-%.1f" : "lambda-%.2f", lambda);
    }

    Results run() {
        long start = System.nanoTime();
        suite = setup.source().suite(setup);
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
            train(fineTune, theta0, taskDirs.get(t), "fine-tuned on task " + (t + 1) + " (" + setup.taskNames().get(t) + ")");
            writeFishers(taskDirs.get(t), Checkpoints.model(taskDirs.get(t)), suite.taskTrain().get(t), t + 1);
        });
        joint = new Training(model, suite.allTaskTrain(), p0, theta0);
        Path targetDir = out.resolve("target");
        train(joint, theta0, targetDir, "target: trained jointly on all task data");
        target = Checkpoints.read(Checkpoints.model(targetDir), layout);

        List<double[]> thetas = new ArrayList<>();
        double[] own = new double[setup.tasks()];
        for (int t = 0; t < setup.tasks(); t++) {
            thetas.add(Checkpoints.read(Checkpoints.model(taskDirs.get(t)), layout));
            own[t] = model.accuracy(thetas.get(t), suite.taskTest().get(t));
        }

        EngineMerge merge = new EngineMerge(baseDir, taskDirs, Checkpoints.HESSIAN, scales, setup.pretrainSize(),
                (float) setup.weightDecay(), executor);
        Map<String, Scores> fixed = new LinkedHashMap<>();
        for (Method m : List.of(Method.LINEAR, Method.TASK_ARITHMETIC, Method.FISHER, Method.FISHER_WITH_BASE,
                Method.GRADIENT_MATCHING)) {
            fixed.put(m.id(), score(merged(merge, m, 1f, false, out.resolve("merged-" + m.id()))));
        }
        Scores empirical = score(merged(merge.withFisherFolder(EMPIRICAL_HESSIAN), Method.GRADIENT_MATCHING, 1f, false,
                out.resolve("merged-gradient_matching-empirical-fisher")));

        List<SweepPoint> sweep = new ArrayList<>();
        double[] lambdas = setup.lambdas();
        for (double lambda : lambdas) {
            Path dir = out.resolve("sweep");
            String tag = lambdaTag(lambda);
            sweep.add(new SweepPoint(lambda,
                    score(merged(merge, Method.TASK_ARITHMETIC, (float) lambda, false, dir.resolve("task_arithmetic-" + tag))),
                    score(merged(merge, Method.GRADIENT_MATCHING, (float) lambda, false, dir.resolve("gradient_matching-" + tag)))));
        }
        int taBest = tuned(sweep, true);
        int gmBest = tuned(sweep, false);

        Scores full = null;
        if (setup.fullHessian()) {
            double[] theta = FullHessian.merge(model, theta0, p0, thetas, suite.taskTrain(), 1.0);
            Checkpoints.write(Checkpoints.model(out.resolve("merged-gradient_matching-full-hessian")), layout, theta,
                    "gradient matching with the tasks' full Hessians (dense solve in the demo, alpha = 1)");
            full = score(theta);
        }

        Map<String, Scores> methods = new LinkedHashMap<>();
        methods.put("linear", fixed.get("linear"));
        methods.put(Results.TA, fixed.get(Results.TA));
        methods.put(Results.TA_TUNED, sweep.get(taBest).taskArithmetic());
        methods.put("fisher", fixed.get("fisher"));
        methods.put("fisher_with_base", fixed.get("fisher_with_base"));
        methods.put(Results.GM, fixed.get(Results.GM));
        methods.put(Results.GM_EMPIRICAL, empirical);
        methods.put(Results.GM_TUNED, sweep.get(gmBest).gradientMatching());
        if (full != null) {
            methods.put(Results.GM_FULL, full);
        }
        Map<String, Double> tunedLambda = new LinkedHashMap<>();
        tunedLambda.put(Results.TA_TUNED, lambdas[taBest]);
        tunedLambda.put(Results.GM_TUNED, lambdas[gmBest]);

        int removed = Results.REMOVED;
        double[] h1 = Checkpoints.read(Checkpoints.fisher(taskDirs.get(removed), Checkpoints.HESSIAN), layout);
        EngineMerge removal = merge.only(removed);
        List<RemovalPoint> removals = new ArrayList<>();
        for (double lambda : Setup.REMOVAL_LAMBDAS) {
            Path dir = out.resolve("removal");
            String tag = lambdaTag(lambda);
            removals.add(new RemovalPoint(lambda,
                    removed(removal, Method.TASK_ARITHMETIC, lambda, dir.resolve("task_arithmetic-" + tag), theta0, null, null),
                    removed(removal, Method.GRADIENT_MATCHING, lambda, dir.resolve("gradient_matching-" + tag), theta0, h0, h1)));
        }
        Removal base = new Removal("base", removed, perTask(theta0), model.accuracy(theta0, suite.pretrainTest()), 0, 0);
        return new Results(setup, out, score(theta0), score(target), own, methods, tunedLambda, sweep, base, removals,
                (System.nanoTime() - start) / 1e9);
    }

    /** The sweep index with the best mean validation accuracy (the first of equals: the smallest λ). */
    private static int tuned(List<SweepPoint> sweep, boolean taskArithmetic) {
        int best = 0;
        for (int i = 1; i < sweep.size(); i++) {
            Scores s = taskArithmetic ? sweep.get(i).taskArithmetic() : sweep.get(i).gradientMatching();
            Scores b = taskArithmetic ? sweep.get(best).taskArithmetic() : sweep.get(best).gradientMatching();
            if (s.validationAccuracy() > b.validationAccuracy()) {
                best = i;
            }
        }
        return best;
    }

    private void train(Training objective, double[] start, Path dir, String description) {
        Lbfgs.Result r = objective.fit(start, setup.maxIterations());
        Checkpoints.write(Checkpoints.model(dir), layout, r.theta(), description);
    }

    /** The Fisher the setup asks for ({@code hessian/}) and the empirical one of the model in {@code modelFile}, on {@code data}. */
    private void writeFishers(Path dir, Path modelFile, Dataset data, int stream) {
        double[] theta = Checkpoints.read(modelFile, layout);
        SplittableRandom rng = new SplittableRandom(setup.seed() * 1_000_003L + stream);
        String what = switch (setup.fisher()) {
            case EXACT -> "diagonal Fisher, exact expectation over the model's predictive distribution";
            case SAMPLED -> "diagonal Fisher, one label per example sampled from the model";
            case EMPIRICAL -> "diagonal empirical Fisher, labels from the data";
        };
        Checkpoints.write(Checkpoints.fisher(dir, Checkpoints.HESSIAN), layout, model.fisher(theta, data, setup.fisher(), rng), what);
        Checkpoints.write(Checkpoints.fisher(dir, EMPIRICAL_HESSIAN), layout,
                model.fisher(theta, data, FisherKind.EMPIRICAL, rng), "diagonal empirical Fisher, labels from the data");
    }

    private double[] merged(EngineMerge merge, Method m, float lambda, boolean remove, Path dir) {
        merge.run(m, lambda, remove, Checkpoints.model(dir));
        return Checkpoints.read(Checkpoints.model(dir), layout);
    }

    /**
     * The removed task's model negated from the base with factor λ. For gradient matching,
     * {@code h0} and {@code h1} (the stored Fishers) locate the elements the engine clamps
     * ({@link #clamped}) and so their share of the step.
     */
    private Removal removed(EngineMerge removal, Method m, double lambda, Path dir, double[] theta0, double[] h0,
                            double[] h1) {
        MergeReport report = removal.run(m, (float) lambda, true, Checkpoints.model(dir));
        double[] theta = Checkpoints.read(Checkpoints.model(dir), layout);
        double share = 0;
        if (h1 != null) {
            boolean[] clamped = clamped(h0, h1, (float) setup.weightDecay(), removal.baseFisherScale(),
                    removal.fisherScales()[0], (float) lambda);
            double all = 0;
            double part = 0;
            for (int j = 0; j < theta.length; j++) {
                double u = theta[j] - theta0[j];
                all += u * u;
                part += clamped[j] ? u * u : 0;
            }
            share = all > 0 ? part / all : 0;
        }
        return new Removal(m.id(), Results.REMOVED, perTask(theta), model.accuracy(theta, suite.pretrainTest()),
                report.clampedElements(), share);
    }

    /**
     * The elements gradient matching's removal of one task clamps: where {@code Hbar = P0 − λ·s·H1}
     * falls below {@code CLAMP·P0} ({@code P0 = δ0 + s0·H0} > 0), in float as the engine computes it.
     */
    static boolean[] clamped(double[] h0, double[] h1, float delta0, float s0, float s, float lambda) {
        boolean[] c = new boolean[h0.length];
        for (int j = 0; j < c.length; j++) {
            float p0 = delta0 + (float) h0[j] * s0;
            float hbar = p0 + ((float) h1[j] * s) * -lambda;
            c[j] = p0 > 0f && hbar < p0 * CLAMP;
        }
        return c;
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
        double validation = 0;
        for (int t = 0; t < acc.length; t++) {
            mean += acc[t] / acc.length;
            validation += model.accuracy(theta, suite.taskValidation().get(t)) / acc.length;
        }
        double dist = 0;
        for (int j = 0; j < theta.length; j++) {
            dist += (theta[j] - target[j]) * (theta[j] - target[j]);
        }
        return new Scores(acc, mean, Math.sqrt(dist), joint.gradientNorm(theta), validation);
    }
}
