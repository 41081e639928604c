package ugm.demo;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** What the experiment measured. Accuracies are fractions in [0, 1]. */
record Results(Setup setup, Path out, Scores base, Scores target, double[] taskModelOwnAccuracy,
               Map<String, Scores> methods, List<SweepPoint> sweep, List<Removal> removal, double seconds) {

    /**
     * One model's scores.
     *
     * @param distanceToTarget Euclidean distance of all parameters to the jointly trained target
     * @param gradientMismatch norm of the joint objective's gradient (summed task losses plus the base
     *                         prior, per task example): zero exactly at the target
     */
    record Scores(double[] perTaskAccuracy, double meanAccuracy, double distanceToTarget, double gradientMismatch) {
    }

    record SweepPoint(double lambda, Scores taskArithmetic, Scores gradientMatching) {
    }

    /** Task {@code removedTask} (0-based) negated from the base by {@code method}. */
    record Removal(String method, int removedTask, double[] perTaskAccuracy, double pretrainAccuracy, long clampedElements) {
    }

    /** The chart's file name inside {@link #out()}. */
    static final String CHART = "sweep.svg";
    static final String JSON = "results.json";
}
