package ugm.core.merge;

/**
 * The range checks of the per-tensor parameters the first passes read (density, gamma, epsilon,
 * t), run by the planner so that {@code --dry-run} and the plan report them, one line per tensor,
 * before anything is read or written. The passes check again as a guard.
 */
final class ParameterRanges {
    private ParameterRanges() {
    }

    /** The first parameter of {@code r} out of range for tensor {@code name} of {@code count} elements, or null. */
    static String problem(MergeRequest r, String name, long count) {
        Method m = r.method;
        if (m == Method.SLERP || m == Method.NEARSWAP) {
            double t = TensorPasses.decimal(r.t.valueFor(name));
            boolean ok = m == Method.SLERP ? Double.isFinite(t) : t >= 0 && !Double.isInfinite(t);
            return ok ? null : m + "'s t must be a finite number" + (m == Method.NEARSWAP ? " >= 0" : "") + ", not " + t;
        }
        TaskVectorPass.Sparsifier s = TaskVectorPass.sparsifier(m);
        if (s == TaskVectorPass.Sparsifier.NONE) {
            return null;
        }
        for (int i = 0; i < r.models.size(); i++) {
            double density = TensorPasses.decimal(r.densities.get(i).valueFor(name));
            if (!(density >= 0) || Double.isInfinite(density)) {
                return "density of model " + (i + 1) + " must be a finite number >= 0, not " + density;
            }
            if (density >= 1) {
                continue;
            }
            String p = switch (s) {
                case MAGNITUDE -> (long) (density * count) > 0 ? null : "density " + density + " of model " + (i + 1)
                        + " keeps no element of its " + count + "; raise it to at least " + 1.0 / count;
                case OUTLIERS -> {
                    double gamma = TensorPasses.decimal(r.gammas.get(i).valueFor(name));
                    yield gamma >= 0 && gamma <= 1 ? null : "gamma of model " + (i + 1) + " must lie in [0, 1], not " + gamma;
                }
                case DELLA -> TaskVectorPass.dellaProblem(density, TensorPasses.decimal(r.epsilons.get(i).valueFor(name)), i);
                default -> null;
            };
            if (p != null) {
                return p;
            }
        }
        return null;
    }
}
