package ugm.core.merge;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.kernel.GradientMatching;

/**
 * What a merge will do, checked whole before anything is written: every output tensor with its
 * inputs, action and coefficients, and every problem found (each naming its tensor).
 *
 * <p>Immutable once made: safe to share between threads.
 */
public final class MergePlan {

    /** How an output tensor is produced. */
    public enum Action {
        /** Floating tensor computed by the method. */
        MERGE,
        /**
         * Tensor copied byte for byte from {@code base}: an integer or bool tensor from the
         * reference model, or the one model's tensor where the method takes it as it is
         * ({@link MergeMethod#copiesModel}).
         */
        COPY
    }

    /** One input of one tensor: its bytes and how to decode them. */
    public record Input(TensorSource source, DType dtype, MemorySegment data) {
    }

    /**
     * One output tensor. For MERGE: {@code models} and {@code fishers} pair by index, {@code base}
     * and {@code baseFisher} may be null where the method has none.
     */
    public record TensorPlan(TensorInfo output, Action action, Input base, Input baseFisher, List<Input> models,
                             List<Input> fishers, Coefficients coefficients) {

        /** Bytes this tensor reads from all its inputs. */
        public long bytesRead() {
            long n = 0;
            if (action == Action.COPY) {
                return base.data.byteSize();
            }
            for (Input in : all()) {
                n += in.data.byteSize();
            }
            return n;
        }

        /** Every input: the models, their Fishers, the base and its Fisher where present. */
        public List<Input> all() {
            List<Input> l = new ArrayList<>(models);
            l.addAll(fishers);
            if (base != null) {
                l.add(base);
            }
            if (baseFisher != null) {
                l.add(baseFisher);
            }
            return l;
        }
    }

    /** Per-tensor numbers the kernels take. */
    public record Coefficients(float[] weights, float[] alphas, float[] scales, float baseScale, float floor,
                               GradientMatching gradientMatching) {
    }

    private final MergeRequest request;
    private final List<TensorPlan> tensors;
    private final List<String> problems;
    private final List<String> warnings;

    private MergePlan(MergeRequest request, List<TensorPlan> tensors, List<String> problems, List<String> warnings) {
        this.request = request;
        this.tensors = Collections.unmodifiableList(tensors);
        this.problems = Collections.unmodifiableList(problems);
        this.warnings = Collections.unmodifiableList(warnings);
    }

    /** The request planned. */
    public MergeRequest request() {
        return request;
    }

    /** Every output tensor, with its inputs, action and coefficients, in output order. */
    public List<TensorPlan> tensors() {
        return tensors;
    }

    /** Everything that prevents the merge, one line each. */
    public List<String> problems() {
        return problems;
    }

    /** Things worth telling that do not prevent the merge. */
    public List<String> warnings() {
        return warnings;
    }

    /** The output tensors, in the reference model's order. */
    public List<TensorInfo> outputs() {
        return tensors.stream().map(TensorPlan::output).toList();
    }

    /** The bytes the merge will read from its inputs. */
    public long bytesRead() {
        return tensors.stream().mapToLong(TensorPlan::bytesRead).sum();
    }

    /** The bytes the merge will write. */
    public long bytesWritten() {
        return tensors.stream().mapToLong(t -> t.output.byteSize()).sum();
    }

    /** @throws MergePlanException listing every problem, when there is any */
    public MergePlan requireValid() {
        if (!problems.isEmpty()) {
            throw new MergePlanException(problems);
        }
        return this;
    }

    /** Plans the merge; never throws for problems in the inputs, it lists them. */
    public static MergePlan of(MergeRequest r) {
        Planner p = new Planner(r);
        TensorSource ref = r.reference();
        for (TensorInfo t : ref.tensors()) {
            p.plan(t);
        }
        p.checkExtras();
        return new MergePlan(r, p.out, p.problems, p.warnings);
    }

    /** Plans one tensor only (a server merging layer by layer). */
    public static MergePlan ofTensor(MergeRequest r, String name) {
        Planner p = new Planner(r);
        TensorInfo t = r.reference().info(name);
        if (t == null) {
            p.problems.add("tensor '" + name + "' is not in " + r.reference().describe());
        } else {
            p.plan(t);
        }
        return new MergePlan(r, p.out, p.problems, p.warnings);
    }

    private static final class Planner {
        final MergeRequest r;
        final List<TensorPlan> out = new ArrayList<>();
        final List<String> problems = new ArrayList<>();
        final List<String> warnings = new ArrayList<>();
        /** The coefficients shared by every tensor when no parameter depends on the tensor. */
        Coefficients shared;
        /** Whether the warning about subtracted tasks (negative gradient-matching weights) was given. */
        boolean subtractWarned;

        Planner(MergeRequest r) {
            this.r = r;
        }

        Coefficients coefficientsFor(String name) {
            if (!r.dependsOnTensor()) {
                if (shared == null) {
                    shared = coefficients(r, name, problems);
                }
                return shared;
            }
            return coefficients(r, name, problems);
        }

        void plan(TensorInfo t) {
            String name = t.name();
            int before = problems.size();
            Input base = r.base == null ? null : input(r.base, name, t, "base model");
            List<Input> models = new ArrayList<>();
            for (int i = 0; i < r.models.size(); i++) {
                models.add(input(r.models.get(i), name, t, "model " + (i + 1)));
            }
            if (problems.size() > before) {
                return;
            }
            DType dt = t.dtype();
            if (!dt.isMergeable()) {
                if (isExactType(dt)) {
                    planCopy(t, base != null ? base : models.get(0), models);
                } else {
                    problems.add("tensor '" + name + "' in " + r.reference().locate(name) + ": dtype " + dt
                            + " cannot be merged (supported: BF16, F16, F32, F64, and integer/bool tensors, which are copied)");
                }
                return;
            }
            for (int i = 0; i < models.size(); i++) {
                if (!models.get(i).dtype.isMergeable()) {
                    problems.add("tensor '" + name + "' in " + r.models.get(i).locate(name) + ": dtype "
                            + models.get(i).dtype + " cannot be merged with " + dt);
                }
            }
            List<Input> fishers = new ArrayList<>();
            Input baseFisher = null;
            if (r.method.needsFishers()) {
                for (int i = 0; i < r.fishers.size(); i++) {
                    fishers.add(fisherInput(r.fishers.get(i), name, t, "Fisher of model " + (i + 1)));
                }
                if (r.baseFisher != null) {
                    baseFisher = fisherInput(r.baseFisher, name, t, "base Fisher");
                }
            }
            if (problems.size() > before) {
                return;
            }
            Coefficients coefficients = coefficientsFor(name);
            if (coefficients == null) {
                return;
            }
            warnSubtracted(name, coefficients.gradientMatching());
            String range = r.method.tensorProblem(r, name, t.elementCount());
            if (range != null) {
                problems.add("tensor '" + name + "': " + range);
                return;
            }
            DType outType = r.outDtype != null ? r.outDtype : dt;
            TensorInfo output = new TensorInfo(name, outType, t.shape());
            if (models.size() == 1 && models.get(0).dtype == outType && r.method.copiesModel(r, name)) {
                out.add(new TensorPlan(output, Action.COPY, models.get(0), null, List.of(), List.of(), null));
                return;
            }
            boolean usesBase = r.method.takesBase();
            out.add(new TensorPlan(output, Action.MERGE, usesBase ? base : null, baseFisher, models, fishers, coefficients));
        }

        /**
         * Gradient matching with a negative weight (or lambda) subtracts that task, as remove
         * does: said once, naming the first tensor and models where it happens.
         */
        private void warnSubtracted(String tensor, GradientMatching gm) {
            if (subtractWarned || gm == null || gm.remove() || !gm.safeguard()) {
                return;
            }
            subtractWarned = true;
            List<String> models = new ArrayList<>();
            for (int i = 0; i < gm.alphas().length; i++) {
                if (gm.alphas()[i] < 0) {
                    models.add("model " + (i + 1) + " (lambda × weight = " + gm.alphas()[i] + ")");
                }
            }
            warnings.add(r.method.id() + ": " + String.join(", ", models) + (models.size() == 1 ? " has" : " have")
                    + " a negative weight" + (r.dependsOnTensor() ? " in tensor '" + tensor + "' (and maybe others)" : "")
                    + ", so its task is subtracted, as remove subtracts tasks: Hbar is clamped from below at clamp (" + gm.clampRel()
                    + ") × the precision of the added part (P0 + Σ α_t·s_t·H_t over the α_t > 0), and the merge reports how many"
                    + " elements were clamped");
        }

        private void planCopy(TensorInfo t, Input from, List<Input> models) {
            for (int i = 0; i < models.size(); i++) {
                Input m = models.get(i);
                if (m == from) {
                    continue;
                }
                if (m.dtype != from.dtype || from.data.mismatch(m.data) != -1) {
                    problems.add("tensor '" + t.name() + "' (" + t.dtype() + ") differs between " + from.source.locate(t.name())
                            + " and " + m.source.locate(t.name())
                            + "; integer and bool tensors are copied from the base and must be equal in every model");
                }
            }
            out.add(new TensorPlan(t, Action.COPY, from, null, List.of(), List.of(), null));
        }

        private Input input(TensorSource s, String name, TensorInfo ref, String role) {
            TensorInfo i = s.info(name);
            if (i == null) {
                problems.add("tensor '" + name + "' is missing from " + role + " (" + s.describe() + ")");
                return null;
            }
            if (!i.sameShape(ref)) {
                problems.add("tensor '" + name + "' has shape " + i.shapeString() + " in " + s.locate(name) + " but "
                        + ref.shapeString() + " in " + r.reference().locate(name));
                return null;
            }
            return new Input(s, i.dtype(), s.data(name));
        }

        private Input fisherInput(TensorSource s, String name, TensorInfo ref, String role) {
            Input in = input(s, name, ref, role);
            if (in != null && !in.dtype.isMergeable()) {
                problems.add("tensor '" + name + "' in " + s.locate(name) + " (" + role + "): dtype " + in.dtype
                        + " cannot be a Fisher (BF16, F16, F32 or F64 expected)");
                return null;
            }
            return in;
        }

        void checkExtras() {
            for (int i = 0; i < r.models.size(); i++) {
                TensorSource m = r.models.get(i);
                long extra = m.tensors().stream().filter(t -> r.reference().info(t.name()) == null).count();
                if (extra > 0 && m != r.reference()) {
                    warnings.add(m.describe() + " has " + extra + " tensor(s) the reference model lacks; they are not merged");
                }
            }
        }

        private static boolean isExactType(DType d) {
            return switch (d) {
                case BOOL, U8, I8, I16, U16, I32, U32, I64, U64 -> true;
                default -> false;
            };
        }
    }

    /** The tensor's coefficients, or null after adding a problem when a parameter is out of range there. */
    static Coefficients coefficients(MergeRequest r, String tensor, List<String> problems) {
        int n = r.models.size();
        float lambda = r.lambda.valueFor(tensor);
        float delta0 = r.delta0.valueFor(tensor);
        float baseScale = r.baseFisherScale.valueFor(tensor);
        float[] given = new float[n];
        float[] scales = new float[n];
        List<Float> givenList = new ArrayList<>(n);
        List<Float> scaleList = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            given[i] = r.weights.get(i).valueFor(tensor);
            scales[i] = r.fisherScales.get(i).valueFor(tensor);
            givenList.add(given[i]);
            scaleList.add(scales[i]);
        }
        String problem = r.check(lambda, delta0, baseScale, givenList, scaleList);
        if (problem != null) {
            problems.add("tensor '" + tensor + "': " + problem);
            return null;
        }
        return r.method.coefficients(new MergeMethod.TensorValues(given, scales, lambda, baseScale, delta0, r.normalize, r.remove,
                r.clampRel, r.fisherFloor));
    }

    /** The plan has problems; the message lists them all, one per line. */
    public static final class MergePlanException extends UgmException {
        /** The problems, one line each. */
        private final List<String> problems;

        MergePlanException(List<String> problems) {
            super(Kind.INVALID_INPUT, problems.size() == 1 ? problems.get(0)
                    : problems.size() + " problems:\n  " + String.join("\n  ", problems));
            this.problems = List.copyOf(problems);
        }

        /** The problems, one line each. */
        public List<String> problems() {
            return problems;
        }
    }
}
