package ugm.core.merge.methods;

import ugm.core.UgmException;
import ugm.core.kernel.Formulas;
import ugm.core.kernel.GradientMatching;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.TaskVectors;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.sparsify.CounterRandom;
import ugm.core.merge.sparsify.MagnitudeRows;
import ugm.core.merge.sparsify.Rank;
import ugm.core.merge.sparsify.Values;

/**
 * The task-vector family (ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della,
 * della_linear), as docs/mergekit-methods.md defines it, and the sparsified gradient-matching
 * methods (docs/method.md, "Sparsified gradient matching"). The first pass finds,
 * per model, which elements survive (a {@link Rank} for the magnitude sparsifiers, a
 * {@link CounterRandom} stream for the random one, {@link MagnitudeRows} for della) and the rescale factor; the element pass
 * applies them, elects signs and sums.
 */
final class TaskVectorPass implements TensorMerge {

    /** How a model's vector is thinned. */
    enum Sparsifier { NONE, MAGNITUDE, RANDOM, OUTLIERS, DELLA }

    /** Which elements of one model's vector survive, a block at a time. */
    private interface Keep {
        /** {@code kept[j]}: whether element {@code from + j}, whose value in the vector is {@code v[j]}, survives (j &lt; n). */
        void mark(long from, int n, float[] v, boolean[] kept);
    }

    private final boolean gradientMatching;
    /**
     * The element pass's parameters: weights, rescale factors (1 where not rescaled), sign
     * election, normalisation, lambda (the gradient-matching updates read the factors and the
     * sign election alone).
     */
    private final TaskVectors mix;
    private final Keep[] keep;
    private final GmUpdates updates;

    private TaskVectorPass(TaskVectors mix, Keep[] keep, GmUpdates updates) {
        this.mix = mix;
        this.keep = keep;
        this.updates = updates;
        this.gradientMatching = updates != null;
    }

    /** Tensor t's merge, its first pass decoding on kernels {@code k}. */
    static TensorMerge prepare(TaskVectorFamily m, MergeRequest r, TensorPlan t, Kernels k) {
        String name = t.output().name();
        long count = t.output().elementCount();
        int models = t.models().size();
        GmUpdates updates = m.gradientMatching() ? new GmUpdates(t.coefficients().gradientMatching()) : null;
        float[] weights = t.coefficients().weights();
        Keep[] keep = new Keep[models];
        double[] factors = new double[models];
        float[] buffer = new float[Blocks.BLOCK];
        Sparsifier s = m.sparsifier();
        for (int i = 0; i < models; i++) {
            double density = Blocks.decimal(r.perModel(Parameter.DENSITY, i).valueFor(name));
            double gamma = Blocks.decimal(r.perModel(Parameter.GAMMA, i).valueFor(name));
            if (!(density >= 0) || Double.isInfinite(density)) {
                throw bad(name, "density of model " + (i + 1) + " must be a finite number >= 0, not " + density);
            }
            double epsilon = Blocks.decimal(r.perModel(Parameter.EPSILON, i).valueFor(name));
            Vector vector = vector(t, i, updates, k);
            int model = i;
            keep[i] = s == Sparsifier.DELLA
                    ? della(r, t, i, density, epsilon, () -> vector(t, model, updates, k).values())
                    : keep(s, r, name, i, count, density, gamma, vector.values(), buffer);
            factors[i] = keep[i] != null && r.rescale() ? factor(count, vector, keep[i], buffer) : 1;
        }
        double lambda = updates != null ? 1 : r.global(Parameter.LAMBDA).valueFor(name);
        boolean normalize = updates == null && r.normalize();
        return new TaskVectorPass(new TaskVectors(weights, factors, m.consensus(), normalize, lambda), keep, updates);
    }

    /** The survivors of model i's vector, or null when all survive. */
    private static Keep keep(Sparsifier s, MergeRequest r, String name, int i, long count, double density, double gamma,
                             Values values, float[] buffer) {
        if (s == Sparsifier.NONE || density >= 1 || count == 0) {
            return null;
        }
        switch (s) {
            case MAGNITUDE -> {
                long k = (long) (density * count);
                if (k <= 0) {
                    throw bad(name, "density " + density + " of model " + (i + 1) + " keeps no element of its "
                            + count + "; raise it to at least " + 1.0 / count);
                }
                return Rank.top(buffer, count, k, values)::mark;
            }
            case RANDOM -> {
                CounterRandom random = new CounterRandom(r.seed(), name, i);
                return (from, n, v, kept) -> random.mark(from, n, density, kept);
            }
            case OUTLIERS -> {
                if (!(gamma >= 0 && gamma <= 1)) {
                    throw bad(name, "gamma of model " + (i + 1) + " must lie in [0, 1], not " + gamma);
                }
                long top = (long) (gamma * count);
                long target = (long) (density * count);
                long bottom = count - target - top;
                if (bottom < 0) {
                    top += bottom;
                    bottom = 0;
                }
                // keep ascending ranks [bottom, count - top): not among the `top` largest, among the `count - bottom` largest
                Rank largest = Rank.top(buffer, count, top, values);
                Rank upper = Rank.top(buffer, count, count - bottom, values);
                return (from, n, v, kept) -> {
                    upper.mark(from, n, v, kept);
                    largest.unmark(from, n, v, kept);
                };
            }
            default -> throw new IllegalStateException(s.name());
        }
    }

    /**
     * della_magprune's survivors of model i, or null when all survive: per row (the last
     * dimension), keep probabilities from density − ε to density + ε by magnitude rank.
     */
    private static Keep della(MergeRequest r, TensorPlan t, int i, double density, double epsilon,
                              java.util.function.Supplier<Values> values) {
        String name = t.output().name();
        if (density >= 1) {
            return null;
        }
        if (density <= 0) {
            return (from, n, v, kept) -> java.util.Arrays.fill(kept, 0, n, false);
        }
        String problem = dellaProblem(density, epsilon, i);
        if (problem != null) {
            throw bad(name, problem);
        }
        long[] shape = t.output().shape();
        long cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        if (cols > Integer.MAX_VALUE - 8) {
            throw bad(name, "della ranks rows of at most " + (Integer.MAX_VALUE - 8) + " elements, not " + cols);
        }
        MagnitudeRows rows = new MagnitudeRows((int) cols, Blocks.BLOCK, density, epsilon,
                new CounterRandom(r.seed(), name, i), values);
        return (from, n, v, kept) -> rows.mark(from, n, kept);
    }

    /** Why della cannot sparsify with this density and epsilon (mergekit: 0 < density ± ε < 1), or null. */
    static String dellaProblem(double density, double epsilon, int model) {
        if (density >= 1 || density <= 0) {
            return null;
        }
        if (!(epsilon >= 0) || !(density - epsilon > 0) || !(density + epsilon < 1)) {
            return "della needs 0 < density ± epsilon < 1 and epsilon >= 0; model " + (model + 1) + " has density "
                    + density + ", epsilon " + epsilon;
        }
        return null;
    }

    /** ‖v‖₁ / ‖kept v‖₁, or 1 when either is below 1e-7 (mergekit); from the values in double, exact where the floats overflowed. */
    private static double factor(long count, Vector vector, Keep keep, float[] buffer) {
        double[] exact = new double[buffer.length];
        boolean[] survives = new boolean[buffer.length];
        double all = 0;
        double kept = 0;
        for (long at = 0; at < count; at += buffer.length) {
            int n = (int) Math.min(buffer.length, count - at);
            vector.read(at, n, buffer, exact);
            keep.mark(at, n, buffer, survives);
            for (int j = 0; j < n; j++) {
                double a = Math.abs(exact[j]);
                all += a;
                kept += Formulas.only(survives[j], a); // (no branch: survivors are as unpredictable as the data)
            }
        }
        return all < 1e-7 || kept < 1e-7 ? 1 : all / kept;
    }

    /**
     * Model i's vector, block by block: the float values the sparsifiers rank and keep (view), and
     * the same values in double (exact): the floats widened, or, where finite inputs overflowed the
     * float computation, the value computed in double.
     */
    private interface Vector {
        void read(long from, int n, float[] view, double[] exact);

        /** The float view alone, for the sparsifiers (one double buffer of {@link Blocks#BLOCK} of its own). */
        default Values values() {
            double[] exact = new double[Blocks.BLOCK];
            return (from, n, out) -> read(from, n, out, exact);
        }
    }

    /** Model i's vector: its task vector θ_i − θ0, or its gradient-matching update; decoded by {@code k}. */
    private static Vector vector(TensorPlan t, int i, GmUpdates updates, Kernels k) {
        int models = t.models().size();
        float[] base = new float[Blocks.BLOCK];
        float[] x = new float[Blocks.BLOCK];
        if (updates == null) {
            Input in = t.models().get(i);
            return new Vector() {
                @Override
                public void read(long from, int n, float[] view, double[] exact) {
                    Blocks.decode(k, t.base(), from, n, base);
                    Blocks.decode(k, in, from, n, x);
                    for (int j = 0; j < n; j++) {
                        view[j] = x[j] - base[j];
                        exact[j] = taskDelta(view[j], x[j], base[j]);
                    }
                }

                @Override
                public Values values() { // (the ranks read the floats alone: no double to compute)
                    return (from, n, view) -> {
                        Blocks.decode(k, t.base(), from, n, base);
                        Blocks.decode(k, in, from, n, x);
                        for (int j = 0; j < n; j++) {
                            view[j] = x[j] - base[j];
                        }
                    };
                }
            };
        }
        float[][] xs = new float[models][Blocks.BLOCK];
        float[][] hs = new float[models][Blocks.BLOCK];
        float[] h0 = t.baseFisher() == null ? null : new float[Blocks.BLOCK];
        float[] num = new float[models + 1];
        float[] views = new float[models];
        double[] terms = new double[models + 1];
        return (from, n, view, exact) -> {
            Blocks.decode(k, t.base(), from, n, base);
            for (int m = 0; m < models; m++) {
                Blocks.decode(k, t.models().get(m), from, n, xs[m]);
                Blocks.decode(k, t.fishers().get(m), from, n, hs[m]);
            }
            if (h0 != null) {
                Blocks.decode(k, t.baseFisher(), from, n, h0);
            }
            for (int j = 0; j < n; j++) {
                boolean careful = updates.updates(base, h0, xs, hs, j, num, views, terms);
                view[j] = views[i];
                exact[j] = careful ? terms[i] / terms[models] : views[i];
            }
        };
    }

    /** θ_t − θ0 as the float {@code d} the sparsifiers see, in double; exact where the float difference of finite values overflowed. */
    private static double taskDelta(float d, float x, float b) {
        return Float.isInfinite(d) && Float.isFinite(x) && Float.isFinite(b) ? (double) x - b : d;
    }

    private static UgmException bad(String tensor, String message) {
        return new UgmException(UgmException.Kind.USAGE, "tensor '" + tensor + "': " + message);
    }

    @Override
    public long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                      float[] out) {
        Scratch s = Scratch.of(models.length, n);
        if (gradientMatching) {
            applyUpdates(from, n, base, models, fishers, baseFisher, out, s);
        } else {
            applyVectors(k, from, n, base, models, out, s);
        }
        return 0;
    }

    /**
     * The task-vector family: each model's survivors in this block (its sparsifier's marks on the
     * float vector), then the kernel's element pass.
     */
    private void applyVectors(Kernels k, long from, int n, float[] base, float[][] models, float[] out, Scratch s) {
        boolean[][] kept = s.keptOrAll;
        for (int i = 0; i < models.length; i++) {
            kept[i] = null;
            if (keep[i] != null) {
                float[] x = models[i];
                float[] d = s.view[i];
                for (int j = 0; j < n; j++) {
                    d[j] = x[j] - base[j];
                }
                kept[i] = s.keptBy[i];
                keep[i].mark(from, n, d, kept[i]);
            }
        }
        k.taskVectors(mix, base, models, kept, out, n);
    }

    /**
     * Sparsified gradient matching: out = θ0 + (Σ kept f_t·num_t) / Hbar, with num_t and Hbar
     * computed exactly as the gradient-matching kernel does (so density 1 with agreeing signs
     * gives its bits); the survivors are chosen on u_t = num_t / Hbar. Where finite inputs
     * overflow the float terms, or the float result, the element is computed in double
     * ({@link #carefulUpdate}), with the survivors chosen on the same floats as the first pass.
     * Model by model over the block, as {@link #applyVectors}; float sums in model order.
     */
    private void applyUpdates(long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                              float[] out, Scratch s) {
        int t = models.length;
        float[] num = new float[t + 1];
        float[] view = new float[t];
        double[] terms = new double[t + 1];
        boolean[] careful = s.careful;
        float[] hbar = s.hbar;
        for (int j = 0; j < n; j++) {
            careful[j] = updates.updates(base, baseFisher, models, fishers, j, num, view, terms);
            for (int i = 0; i < t; i++) {
                s.num[i][j] = num[i];
                s.view[i][j] = view[i];
            }
            hbar[j] = num[t];
        }
        float[] sum = s.sumF;
        java.util.Arrays.fill(sum, 0, n, 0f);
        for (int i = 0; i < t; i++) {
            float[] u = s.view[i];
            float[] nu = s.num[i];
            float[] su = s.u[i];
            boolean[] kept = s.keptBy[i];
            if (keep[i] == null) {
                java.util.Arrays.fill(kept, 0, n, true);
            } else {
                keep[i].mark(from, n, u, kept);
            }
            double f = mix.factors()[i];
            for (int j = 0; j < n; j++) {
                float ui = f != 1 ? (float) (u[j] * f) : u[j];
                float ni = f != 1 ? (float) (nu[j] * f) : nu[j];
                su[j] = Formulas.only(kept[j], ui);
                nu[j] = Formulas.only(kept[j], ni);
                sum[j] += su[j];
            }
        }
        float[] total = s.totalF;
        java.util.Arrays.fill(total, 0, n, 0f);
        boolean consensus = mix.consensus();
        for (int i = 0; i < t; i++) {
            float[] su = s.u[i];
            float[] nu = s.num[i];
            for (int j = 0; j < n; j++) {
                boolean positive = sum[j] >= 0;
                boolean agrees = !consensus | positive & su[j] > 0 | !positive & su[j] < 0;
                total[j] += Formulas.only(agrees, nu[j]);
            }
        }
        for (int j = 0; j < n; j++) {
            if (careful[j]) {
                updates.updates(base, baseFisher, models, fishers, j, num, view, terms);
                out[j] = carefulUpdate(from + j, base[j], view, terms);
                continue;
            }
            out[j] = base[j] + total[j] / hbar[j];
            if (!Float.isFinite(out[j]) && Formulas.gradientMatchingInputsFinite(base, baseFisher, models, fishers, j)) {
                Formulas.gradientMatchingTermsCareful(updates.p, base, baseFisher, models, fishers, j, terms);
                for (int i = 0; i < t; i++) {
                    view[i] = s.view[i][j];
                }
                out[j] = carefulUpdate(from + j, base[j], view, terms);
            }
        }
    }

    /**
     * One element of sparsified gradient matching in double, from the careful terms and
     * denominator ({@code terms[0, T)}, {@code terms[T]}); the survivors are chosen on
     * {@code view}, the floats the first pass ranked.
     */
    private float carefulUpdate(long index, float base, float[] view, double[] terms) {
        int t = view.length;
        double hbar = terms[t];
        double[] num = new double[t];
        double[] u = new double[t];
        double sum = 0;
        for (int i = 0; i < t; i++) {
            if (keeps(i, index, view[i])) {
                num[i] = terms[i] * mix.factors()[i];
                u[i] = terms[i] / hbar * mix.factors()[i];
            }
            sum += u[i];
        }
        double elected = sum >= 0 ? 1 : -1;
        double total = 0;
        for (int i = 0; i < t; i++) {
            if (!mix.consensus() || Math.signum(u[i]) == elected) {
                total += num[i];
            }
        }
        return (float) (base + total / hbar);
    }

    /** Whether element {@code index} of model i's vector, of value v, survives: one element's {@link Keep#mark}. */
    private boolean keeps(int i, long index, float v) {
        if (keep[i] == null) {
            return true;
        }
        boolean[] kept = new boolean[1];
        keep[i].mark(index, 1, new float[] {v}, kept);
        return kept[0];
    }

    /**
     * One thread's buffers for the blocks of {@link #apply}, model by model; kept for the next
     * call with as many models (a merge's blocks are {@link Merger#bufferElements()} long or
     * shorter), a longer block gets its own.
     */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> LOCAL = new ThreadLocal<>();
        final float[][] view;
        final float[][] num;
        final float[][] u;
        final boolean[][] keptBy;
        /** Per model: its row of {@link #keptBy}, or null where every element survives (the kernel's masks). */
        final boolean[][] keptOrAll;
        final float[] sumF;
        final float[] totalF;
        final float[] hbar;
        final boolean[] careful;

        private Scratch(int models, int n) {
            view = new float[models][n];
            num = new float[models][n];
            u = new float[models][n];
            keptBy = new boolean[models][n];
            keptOrAll = new boolean[models][];
            sumF = new float[n];
            totalF = new float[n];
            hbar = new float[n];
            careful = new boolean[n];
        }

        static Scratch of(int models, int n) {
            Scratch s = LOCAL.get();
            if (s != null && s.view.length == models && s.careful.length >= n) {
                return s;
            }
            int block = Merger.bufferElements();
            s = new Scratch(models, Math.max(n, block));
            if (n <= block) {
                LOCAL.set(s);
            }
            return s;
        }
    }

    /** The numerators of the gradient-matching rule: the kernels' own definition, {@link Formulas#gradientMatchingTerms}. */
    static final class GmUpdates {
        private final GradientMatching p;

        GmUpdates(GradientMatching p) {
            this.p = p;
        }

        /**
         * Every model's update at element j. Fills num[t] = (P0 + s_t H_t)·α_t·(θ_t − θ0) and
         * num[T] = Hbar, and view[t] = num[t] / Hbar, in float; where Hbar is not positive, the
         * task-arithmetic limit: num[t] = α_t·(θ_t − θ0) and Hbar = 1. Where the inputs are finite
         * but Hbar, a num[t] or a view[t] is not, it also fills terms (the careful twin, in
         * double: the numerators and the denominator), sets view[t] to its update rounded to
         * float, and returns true.
         */
        boolean updates(float[] base, float[] baseFisher, float[][] x, float[][] fisher, int j, float[] num, float[] view,
                        double[] terms) {
            int models = x.length;
            float hbar = Formulas.gradientMatchingTerms(p, base, baseFisher, x, fisher, j, num);
            boolean overflow = !Float.isFinite(hbar);
            for (int t = 0; t < models; t++) {
                view[t] = num[t] / hbar;
                overflow |= !Float.isFinite(num[t]) || !Float.isFinite(view[t]);
            }
            if (!overflow || !Formulas.gradientMatchingInputsFinite(base, baseFisher, x, fisher, j)) {
                return false;
            }
            Formulas.gradientMatchingTermsCareful(p, base, baseFisher, x, fisher, j, terms);
            for (int t = 0; t < models; t++) {
                view[t] = (float) (terms[t] / terms[models]);
            }
            return true;
        }
    }

}
