package ugm.demo;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What one run (one seed) measured. Accuracies are fractions in [0, 1].
 *
 * @param methods      the merges by method key, in table order (see {@link #LABELS})
 * @param tunedLambda  for the {@code *_tuned} methods, the λ chosen on the validation splits
 * @param sweep        task arithmetic and gradient matching over {@link Setup#lambdas()}
 * @param removal      task {@link #REMOVED} negated from the base by both methods over {@link Setup#REMOVAL_LAMBDAS}
 */
record Results(Setup setup, Path out, Scores base, Scores target, double[] taskModelOwnAccuracy,
               Map<String, Scores> methods, Map<String, Double> tunedLambda, List<SweepPoint> sweep,
               Removal removedBase, List<RemovalPoint> removal, double seconds) {

    /**
     * One model's scores.
     *
     * @param distanceToTarget   Euclidean distance of all parameters to the jointly trained target
     * @param gradientMismatch   norm of the joint objective's gradient (summed task losses plus the base
     *                           prior, per task example): zero exactly at the target
     * @param validationAccuracy mean accuracy on the tasks' validation splits (only used to tune λ)
     */
    record Scores(double[] perTaskAccuracy, double meanAccuracy, double distanceToTarget, double gradientMismatch,
                  double validationAccuracy) {
    }

    record SweepPoint(double lambda, Scores taskArithmetic, Scores gradientMatching) {
    }

    /**
     * Task {@code removedTask} (0-based) negated from the base by {@code method}.
     *
     * @param clampedElements how many elements gradient matching clamped (the engine's count; a mean over seeds
     *                        in {@link Summary#mean()})
     * @param clampedShare    the clamped elements' share of the squared length of the step from the base
     */
    record Removal(String method, int removedTask, double[] perTaskAccuracy, double pretrainAccuracy,
                   double clampedElements, double clampedShare) {

        /** Mean accuracy on the tasks other than the removed one. */
        double othersAccuracy() {
            double s = 0;
            for (int t = 0; t < perTaskAccuracy.length; t++) {
                s += t == removedTask ? 0 : perTaskAccuracy[t] / (perTaskAccuracy.length - 1);
            }
            return s;
        }

        double removedAccuracy() {
            return perTaskAccuracy[removedTask];
        }
    }

    record RemovalPoint(double lambda, Removal taskArithmetic, Removal gradientMatching) {
    }

    /** The chart files' names inside {@link #out()}, and the JSON's. */
    static final String CHART = "sweep.svg";
    static final String REMOVAL_CHART = "removal.svg";
    static final String JSON = "results.json";
    /** The task the removal experiment negates (0-based). */
    static final int REMOVED = 0;

    static final String GM = "gradient_matching";
    static final String TA = "task_arithmetic";
    static final String TA_TUNED = "task_arithmetic_tuned";
    static final String GM_TUNED = "gradient_matching_tuned";
    static final String GM_EMPIRICAL = "gradient_matching_empirical_fisher";
    static final String GM_FULL = "gradient_matching_full_hessian";

    /** The table's label of each method key. */
    static final Map<String, String> LABELS = Map.of(
            "linear", "linear (averaging)",
            TA, "task_arithmetic (lambda = 1)",
            TA_TUNED, "task_arithmetic (lambda tuned)",
            "fisher", "fisher (Fisher averaging)",
            "fisher_with_base", "fisher_with_base",
            GM, "gradient_matching (alpha = 1)",
            GM_EMPIRICAL, "gradient_matching (empirical Fisher)",
            GM_TUNED, "gradient_matching (lambda tuned)",
            GM_FULL, "gradient_matching (full Hessian)");

    static String label(String key) {
        return LABELS.getOrDefault(key, key);
    }

    /** λ = 1 in the sweep. */
    SweepPoint atOne() {
        return sweep.get(setup.lambdaOne());
    }

    RemovalPoint removalAtOne() {
        return removal.get(Setup.indexOfOne(Setup.REMOVAL_LAMBDAS));
    }
}
