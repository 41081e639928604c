package ugm.demo;

import java.io.PrintWriter;
import java.util.Map;
import ugm.demo.Results.Removal;
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;

/** The human-readable report: the methods table, the λ sweep and the removal example. */
final class ResultsTable {

    private ResultsTable() {
    }

    static void print(Results r, PrintWriter out) {
        Setup s = r.setup();
        int tasks = s.tasks();
        out.printf("Softmax regression, %d classes x %d features (%,d parameters); base trained on %,d pretraining examples,%n",
                s.classes(), s.features(), s.parameters(), s.pretrainSize());
        out.printf("%d tasks fine-tuned from it (train sizes %s), Fisher scales = data sizes. Accuracy on each task's held-out split.%n%n",
                tasks, java.util.Arrays.toString(s.taskSizes()));
        StringBuilder head = new StringBuilder(String.format("%-36s", "model"));
        for (int t = 0; t < tasks; t++) {
            head.append(String.format(" %6s", "task" + (t + 1)));
        }
        head.append(String.format(" %6s %11s %10s", "mean", "dist to", "grad"));
        out.println(head);
        StringBuilder head2 = new StringBuilder(String.format("%-36s", ""));
        head2.append(" ".repeat(7 * tasks)).append(String.format(" %6s %11s %10s", "", "target", "mismatch"));
        out.println(head2);
        row(out, "base (pretrained)", r.base());
        row(out, "target (joint training)", r.target());
        StringBuilder own = new StringBuilder(String.format("%-36s", "task models (each on its own task)"));
        double mean = 0;
        for (double a : r.taskModelOwnAccuracy()) {
            own.append(String.format(" %6.1f", 100 * a));
            mean += a / tasks;
        }
        own.append(String.format(" %6.1f", 100 * mean));
        out.println(own);
        out.println("-".repeat(36 + 7 * tasks + 30));
        for (Map.Entry<String, Scores> e : r.methods().entrySet()) {
            row(out, label(e.getKey()), e.getValue());
        }
        out.println("dist to target: L2 distance of all parameters to the target; grad mismatch: norm of the gradient of the");
        out.println("joint objective (task losses + base prior, per task example), 0 at the target.");
        out.println();
        out.println("Sweep of lambda (alpha_t = lambda for every task):");
        out.printf("%6s  %22s  %22s%n", "", "task_arithmetic", "gradient_matching");
        out.printf("%6s  %10s %11s  %10s %11s%n", "lambda", "mean acc", "dist", "mean acc", "dist");
        for (SweepPoint p : r.sweep()) {
            out.printf("%6.1f  %10.1f %11.3f  %10.1f %11.3f%n", p.lambda(), 100 * p.taskArithmetic().meanAccuracy(),
                    p.taskArithmetic().distanceToTarget(), 100 * p.gradientMatching().meanAccuracy(),
                    p.gradientMatching().distanceToTarget());
        }
        out.println();
        int removed = r.removal().get(0).removedTask();
        out.printf("Removal: task %d negated from the base (lambda = 1):%n", removed + 1);
        out.printf("%-22s %12s %18s %12s %9s%n", "model", "task" + (removed + 1) + " acc", "other tasks (mean)",
                "pretraining", "clamped");
        for (Removal x : r.removal()) {
            double others = 0;
            for (int t = 0; t < tasks; t++) {
                others += t == removed ? 0 : x.perTaskAccuracy()[t] / (tasks - 1);
            }
            out.printf("%-22s %12.1f %18.1f %12.1f %9s%n", x.method(), 100 * x.perTaskAccuracy()[removed], 100 * others,
                    100 * x.pretrainAccuracy(), x.method().equals("base") ? "" : Long.toString(x.clampedElements()));
        }
        out.println();
        out.printf("Accuracies in %%. Models, Fishers (hessian/, hessian-empirical/) and merges are in %s%n", r.out());
        out.printf("Chart: %s   JSON: %s   (%.1f s)%n", r.out().resolve(Results.CHART), r.out().resolve(Results.JSON),
                r.seconds());
        out.flush();
    }

    private static String label(String key) {
        return key.equals("gradient_matching_empirical_fisher") ? "gradient_matching (empirical Fisher)" : key;
    }

    private static void row(PrintWriter out, String name, Scores s) {
        StringBuilder b = new StringBuilder(String.format("%-36s", name));
        for (double a : s.perTaskAccuracy()) {
            b.append(String.format(" %6.1f", 100 * a));
        }
        b.append(String.format(" %6.1f %11.3f %10.5f", 100 * s.meanAccuracy(), s.distanceToTarget(), s.gradientMismatch()));
        out.println(b);
    }
}
