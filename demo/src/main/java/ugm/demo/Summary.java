package ugm.demo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import ugm.demo.Results.Removal;
import ugm.demo.Results.RemovalPoint;
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;

/**
 * The runs of several seeds and their mean: {@link #mean()} is a {@link Results} whose every
 * number is the mean over the seeds (with one seed, that seed's results).
 */
record Summary(List<Results> runs, Results mean) {

    /** A mean and the sample standard deviation (0 for one value). */
    record Stat(double mean, double sd, int n) {
        static Stat of(double[] v) {
            double m = 0;
            for (double x : v) {
                m += x / v.length;
            }
            double ss = 0;
            for (double x : v) {
                ss += (x - m) * (x - m);
            }
            return new Stat(m, v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0, v.length);
        }
    }

    /**
     * Method {@code a} minus method {@code b}, seed by seed.
     *
     * @param accuracy         difference of mean accuracy (fractions)
     * @param aMoreAccurate    on how many seeds {@code a} is more accurate
     * @param distance         difference of the distance to the target
     * @param aCloser          on how many seeds {@code a} is closer to the target
     * @param mismatch         difference of the gradient mismatch
     * @param aSmallerMismatch on how many seeds {@code a} has the smaller gradient mismatch
     */
    record Paired(String a, String b, Stat accuracy, int aMoreAccurate, Stat distance, int aCloser, Stat mismatch,
                  int aSmallerMismatch) {
    }

    /** The pairs the table and JSON compare. */
    static final List<String[]> PAIRS = List.of(
            new String[] {Results.GM, Results.TA},
            new String[] {Results.GM, Results.TA_TUNED},
            new String[] {Results.GM_TUNED, Results.TA_TUNED},
            new String[] {Results.GM_FULL, Results.GM},
            new String[] {Results.GM_FULL, Results.TA_TUNED});

    static Summary of(List<Results> runs) {
        Results first = runs.get(0);
        Map<String, Scores> methods = new LinkedHashMap<>();
        for (String key : first.methods().keySet()) {
            methods.put(key, meanScores(runs, r -> r.methods().get(key)));
        }
        Map<String, Double> tuned = new LinkedHashMap<>();
        for (String key : first.tunedLambda().keySet()) {
            tuned.put(key, meanOf(runs, r -> r.tunedLambda().get(key)));
        }
        List<SweepPoint> sweep = new ArrayList<>();
        for (int i = 0; i < first.sweep().size(); i++) {
            int at = i;
            sweep.add(new SweepPoint(first.sweep().get(i).lambda(),
                    meanScores(runs, r -> r.sweep().get(at).taskArithmetic()),
                    meanScores(runs, r -> r.sweep().get(at).gradientMatching())));
        }
        List<RemovalPoint> removal = new ArrayList<>();
        for (int i = 0; i < first.removal().size(); i++) {
            int at = i;
            removal.add(new RemovalPoint(first.removal().get(i).lambda(),
                    meanRemoval(runs, r -> r.removal().get(at).taskArithmetic()),
                    meanRemoval(runs, r -> r.removal().get(at).gradientMatching())));
        }
        double[] own = new double[first.setup().tasks()];
        for (Results r : runs) {
            for (int t = 0; t < own.length; t++) {
                own[t] += r.taskModelOwnAccuracy()[t] / runs.size();
            }
        }
        double seconds = 0;
        for (Results r : runs) {
            seconds += r.seconds();
        }
        Results mean = new Results(first.setup(), first.out(), meanScores(runs, Results::base),
                meanScores(runs, Results::target), own, methods, tuned, sweep, meanRemoval(runs, Results::removedBase),
                removal, seconds);
        return new Summary(List.copyOf(runs), mean);
    }

    /** The seeds' statistic of {@code f} over the runs. */
    Stat stat(ToDoubleFunction<Results> f) {
        double[] v = new double[runs.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = f.applyAsDouble(runs.get(i));
        }
        return Stat.of(v);
    }

    /** Mean accuracy of method {@code key} over the seeds. */
    Stat accuracy(String key) {
        return stat(r -> r.methods().get(key).meanAccuracy());
    }

    /** {@code a − b} per seed, when both methods ran. */
    Paired paired(String a, String b) {
        if (!mean.methods().containsKey(a) || !mean.methods().containsKey(b)) {
            return null;
        }
        int n = runs.size();
        double[] acc = new double[n];
        double[] dist = new double[n];
        double[] mis = new double[n];
        int better = 0;
        int closer = 0;
        int smaller = 0;
        for (int i = 0; i < n; i++) {
            Scores x = runs.get(i).methods().get(a);
            Scores y = runs.get(i).methods().get(b);
            acc[i] = x.meanAccuracy() - y.meanAccuracy();
            dist[i] = x.distanceToTarget() - y.distanceToTarget();
            mis[i] = x.gradientMismatch() - y.gradientMismatch();
            better += acc[i] > 0 ? 1 : 0;
            closer += dist[i] < 0 ? 1 : 0;
            smaller += mis[i] < 0 ? 1 : 0;
        }
        return new Paired(a, b, Stat.of(acc), better, Stat.of(dist), closer, Stat.of(mis), smaller);
    }

    /** The pairs of {@link #PAIRS} whose methods ran. */
    List<Paired> pairs() {
        List<Paired> l = new ArrayList<>();
        for (String[] p : PAIRS) {
            Paired x = paired(p[0], p[1]);
            if (x != null) {
                l.add(x);
            }
        }
        return l;
    }

    /** The λ each seed's tuned {@code key} chose. */
    double[] tunedLambdas(String key) {
        double[] v = new double[runs.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = runs.get(i).tunedLambda().get(key);
        }
        return v;
    }

    private static double meanOf(List<Results> runs, ToDoubleFunction<Results> f) {
        double m = 0;
        for (Results r : runs) {
            m += f.applyAsDouble(r) / runs.size();
        }
        return m;
    }

    private static Scores meanScores(List<Results> runs, Function<Results, Scores> f) {
        Scores first = f.apply(runs.get(0));
        double[] acc = new double[first.perTaskAccuracy().length];
        double mean = 0;
        double dist = 0;
        double mis = 0;
        double val = 0;
        int n = runs.size();
        for (Results r : runs) {
            Scores s = f.apply(r);
            for (int t = 0; t < acc.length; t++) {
                acc[t] += s.perTaskAccuracy()[t] / n;
            }
            mean += s.meanAccuracy() / n;
            dist += s.distanceToTarget() / n;
            mis += s.gradientMismatch() / n;
            val += s.validationAccuracy() / n;
        }
        return n == 1 ? first : new Scores(acc, mean, dist, mis, val);
    }

    private static Removal meanRemoval(List<Results> runs, Function<Results, Removal> f) {
        Removal first = f.apply(runs.get(0));
        if (runs.size() == 1) {
            return first;
        }
        double[] acc = new double[first.perTaskAccuracy().length];
        double pre = 0;
        double clamped = 0;
        double share = 0;
        int n = runs.size();
        for (Results r : runs) {
            Removal x = f.apply(r);
            for (int t = 0; t < acc.length; t++) {
                acc[t] += x.perTaskAccuracy()[t] / n;
            }
            pre += x.pretrainAccuracy() / n;
            clamped += x.clampedElements() / n;
            share += x.clampedShare() / n;
        }
        return new Removal(first.method(), first.removedTask(), acc, pre, clamped, share);
    }
}
