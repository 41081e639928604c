package ugm.demo;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.DoubleStream;
import ugm.demo.Results.Removal;
import ugm.demo.Results.RemovalPoint;
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;
import ugm.demo.Summary.Paired;
import ugm.demo.Summary.Stat;

/** The human-readable report: the methods table, paired differences, the λ sweep and the removal sweep. */
final class ResultsTable {
    private static final int NAME = 38;

    private ResultsTable() {
    }

    static void print(Summary sum, PrintWriter out) {
        Results r = sum.mean();
        Setup s = r.setup();
        int tasks = s.tasks();
        int seeds = sum.runs().size();
        out.printf(Locale.ROOT, "Softmax regression, %d classes x %d features (%,d parameters); base trained on %,d pretraining examples,%n",
                s.classes(), s.features(), s.parameters(), s.pretrainSize());
        out.printf(Locale.ROOT, "%d tasks fine-tuned from it (train sizes %s); Fisher: %s diagonal, scales = data sizes.%n",
                tasks, Arrays.toString(s.taskSizes()), s.fisher().name().toLowerCase(Locale.ROOT));
        out.println(s.source().describe(s));
        if (seeds > 1) {
            out.printf(Locale.ROOT, "Seeds %s: each number is the mean over the seeds; sd is the standard deviation across them.%n",
                    sum.runs().stream().map(x -> Long.toString(x.setup().seed())).collect(Collectors.joining(", ")));
        } else {
            out.printf(Locale.ROOT, "Seed %d.%n", s.seed());
        }
        out.println();
        StringBuilder head = new StringBuilder(String.format("%-" + NAME + "s", "model"));
        for (String name : s.taskNames()) {
            head.append(String.format(" %6s", name));
        }
        head.append(String.format(" %6s %5s %9s %10s", "mean", seeds > 1 ? "sd" : "", "dist to", "grad"));
        out.println(head);
        out.println(String.format("%-" + NAME + "s", "") + " ".repeat(7 * tasks) + String.format(" %6s %5s %9s %10s", "", "", "target", "mismatch"));
        row(out, "base (pretrained)", r.base(), sum.stat(x -> x.base().meanAccuracy()));
        row(out, "target (joint training)", r.target(), sum.stat(x -> x.target().meanAccuracy()));
        StringBuilder own = new StringBuilder(String.format("%-" + NAME + "s", "task models (each on its own task)"));
        double mean = 0;
        for (double a : r.taskModelOwnAccuracy()) {
            own.append(String.format(Locale.ROOT, " %6.1f", 100 * a));
            mean += a / tasks;
        }
        own.append(String.format(Locale.ROOT, " %6.1f", 100 * mean));
        out.println(own);
        out.println("-".repeat(NAME + 7 * tasks + 34));
        for (Map.Entry<String, Scores> e : r.methods().entrySet()) {
            row(out, Results.label(e.getKey()), e.getValue(), sum.accuracy(e.getKey()));
        }
        out.println("dist to target: L2 distance of all parameters to the target; grad mismatch: norm of the gradient of the");
        out.println("joint objective (task losses + base prior, per task example), 0 at the target.");
        double[] grid = s.lambdas();
        out.printf(Locale.ROOT, "Tuned lambda: the best mean validation accuracy over lambda = %s ... %s: task_arithmetic %s;"
                        + " gradient_matching %s.%n", fmt(grid[0]), fmt(grid[grid.length - 1]),
                list(sum.tunedLambdas(Results.TA_TUNED)), list(sum.tunedLambdas(Results.GM_TUNED)));
        if (r.methods().containsKey(Results.GM_FULL)) {
            out.println("full Hessian: the tasks' exact Hessians (dense, double precision, in the demo) in place of the diagonal Fishers.");
        }
        if (seeds > 1) {
            paired(sum, out);
        }
        out.println();
        sweep(r, out);
        out.println();
        removal(r, out);
        out.println();
        out.printf(Locale.ROOT, "Accuracies in %%. Models, Fishers (hessian/, hessian-empirical/) and merges are in %s%s%n", r.out(),
                seeds > 1 ? " (one folder per seed)" : "");
        out.printf(Locale.ROOT, "Charts: %s, %s   JSON: %s   (%.1f s)%n", r.out().resolve(Results.CHART),
                r.out().resolve(Results.REMOVAL_CHART), r.out().resolve(Results.JSON), r.seconds());
        out.flush();
    }

    private static void paired(Summary sum, PrintWriter out) {
        int n = sum.runs().size();
        out.println();
        out.printf(Locale.ROOT, "Paired over the %d seeds: A minus B, mean +- sd; k/%d: seeds on which A is more accurate / closer / smaller.%n", n, n);
        out.printf(Locale.ROOT, "%-32s %-32s %19s %20s %22s%n", "A", "B", "accuracy (points)", "dist to target", "grad mismatch");
        for (Paired p : sum.pairs()) {
            out.printf(Locale.ROOT, "%-32s %-32s %+6.2f +- %4.2f %3d/%d %+7.3f +- %5.3f %2d/%d %+8.5f +- %7.5f %2d/%d%n",
                    Results.label(p.a()), Results.label(p.b()), 100 * p.accuracy().mean(), 100 * p.accuracy().sd(), p.aMoreAccurate(), n,
                    p.distance().mean(), p.distance().sd(), p.aCloser(), n, p.mismatch().mean(), p.mismatch().sd(),
                    p.aSmallerMismatch(), n);
        }
    }

    private static void sweep(Results r, PrintWriter out) {
        out.println("Sweep of lambda (alpha_t = lambda for every task):");
        out.printf("%6s  %34s  %34s%n", "", "task_arithmetic", "gradient_matching");
        out.printf("%6s  %10s %11s %11s  %10s %11s %11s%n", "lambda", "mean acc", "dist", "valid. acc", "mean acc", "dist", "valid. acc");
        for (SweepPoint p : r.sweep()) {
            out.printf(Locale.ROOT, "%6.1f  %10.1f %11.3f %11.1f  %10.1f %11.3f %11.1f%n", p.lambda(),
                    100 * p.taskArithmetic().meanAccuracy(), p.taskArithmetic().distanceToTarget(),
                    100 * p.taskArithmetic().validationAccuracy(), 100 * p.gradientMatching().meanAccuracy(),
                    p.gradientMatching().distanceToTarget(), 100 * p.gradientMatching().validationAccuracy());
        }
    }

    private static void removal(Results r, PrintWriter out) {
        Setup s = r.setup();
        int removed = Results.REMOVED;
        String name = s.taskNames().get(removed);
        out.printf(Locale.ROOT, "Removal: task %d (%s) negated from the base; gradient matching's Hbar = P0 - lambda*s*H is clamped"
                + " below at %.1f*P0 (engineering, see README).%n", removed + 1, name, Experiment.CLAMP);
        out.printf("%6s  %26s  %48s  %9s%n", "", "task_arithmetic", "gradient_matching", "TA, same");
        out.printf("%6s  %7s %8s %9s  %7s %8s %9s %9s %7s  %9s%n", "lambda", name, "others", "pretrain", name, "others", "pretrain",
                "clamped", "share", "forgetting");
        Removal b = r.removedBase();
        out.printf(Locale.ROOT, "%6s  %7.1f %8.1f %9.1f%n", "base", 100 * b.removedAccuracy(), 100 * b.othersAccuracy(),
                100 * b.pretrainAccuracy());
        for (RemovalPoint p : r.removal()) {
            Removal ta = p.taskArithmetic();
            Removal gm = p.gradientMatching();
            double[] m = matched(r.removal(), gm.removedAccuracy());
            double clampedPct = 100 * gm.clampedElements() / s.parameters();
            out.printf(Locale.ROOT, "%6.2f  %7.1f %8.1f %9.1f  %7.1f %8.1f %9.1f %8.1f%% %6.0f%%  %9s%n", p.lambda(),
                    100 * ta.removedAccuracy(), 100 * ta.othersAccuracy(), 100 * ta.pretrainAccuracy(),
                    100 * gm.removedAccuracy(), 100 * gm.othersAccuracy(), 100 * gm.pretrainAccuracy(), clampedPct,
                    100 * gm.clampedShare(), m == null ? "-" : String.format(Locale.ROOT, "%.1f", 100 * m[1]));
        }
        out.println("others: mean accuracy on the other tasks. clamped: the elements gradient matching clamped, in % of all parameters;");
        out.println("share: their share of the squared length of its step from the base. TA, same forgetting: task_arithmetic's accuracy");
        out.printf("on the others where it leaves the same accuracy on %s as gradient_matching on that row (interpolated in lambda).%n", name);
    }

    /**
     * Where task arithmetic's removal curve first leaves {@code removedAccuracy} on the removed task:
     * {λ, accuracy on the others}, linearly interpolated between grid points; null when it never does.
     */
    static double[] matched(List<RemovalPoint> curve, double removedAccuracy) {
        for (int i = 1; i < curve.size(); i++) {
            Removal a = curve.get(i - 1).taskArithmetic();
            Removal b = curve.get(i).taskArithmetic();
            double ra = a.removedAccuracy();
            double rb = b.removedAccuracy();
            if (ra >= removedAccuracy && rb <= removedAccuracy && ra != rb) {
                double f = (ra - removedAccuracy) / (ra - rb);
                double la = curve.get(i - 1).lambda();
                double lb = curve.get(i).lambda();
                return new double[] {la + f * (lb - la), a.othersAccuracy() + f * (b.othersAccuracy() - a.othersAccuracy())};
            }
        }
        return null;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String list(double[] v) {
        return DoubleStream.of(v).mapToObj(ResultsTable::fmt).collect(Collectors.joining(", "));
    }

    private static void row(PrintWriter out, String name, Scores s, Stat acc) {
        StringBuilder b = new StringBuilder(String.format("%-" + NAME + "s", name));
        for (double a : s.perTaskAccuracy()) {
            b.append(String.format(Locale.ROOT, " %6.1f", 100 * a));
        }
        b.append(String.format(Locale.ROOT, " %6.1f %5s %9.3f %10.5f", 100 * s.meanAccuracy(),
                acc.n() > 1 ? String.format(Locale.ROOT, "%.1f", 100 * acc.sd()) : "", s.distanceToTarget(), s.gradientMismatch()));
        out.println(b);
    }
}
