package ugm.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import ugm.core.DType;
import ugm.core.Printable;
import ugm.core.merge.MergePlan;
import ugm.core.merge.Merger;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeMethod;
import ugm.core.merge.methods.Method;

/** Prints a merge plan: every output tensor with its inputs and conversions, the totals, and every problem. */
final class DryRun {
    /** Floats per decode buffer of one worker (MergeRequest's default chunk). */

    private DryRun() {
    }

    static void print(MergePlan plan, MergeMethod method, int threads, String outStatus, List<String> warnings, PrintWriter out) {
        int models = countModels(plan);
        out.printf(Locale.ROOT, "plan: %s of %d model(s), %d output tensor(s); arithmetic in float32%n", method, models,
                plan.tensors().size());
        for (TensorPlan t : plan.tensors()) {
            out.println("  " + Printable.of(describe(t, method)));
        }
        long merged = plan.tensors().stream().filter(t -> t.action() == Action.MERGE).count();
        out.printf(Locale.ROOT, "tensors: %d merged, %d copied%n", merged, plan.tensors().size() - merged);
        out.printf(Locale.ROOT, "read: %s; write: %s%n", Sizes.format(plan.bytesRead()), Sizes.format(plan.bytesWritten()));
        long heap = threads * (3L + 2L * models) * Merger.bufferElements() * Float.BYTES;
        out.printf(Locale.ROOT, "expected peak memory: %s of heap buffers (%d threads x %d buffers of %d floats);"
                        + " inputs and output are memory-mapped (page cache, up to %s, reclaimable)%n",
                Sizes.format(heap), threads, 3 + 2 * models, Merger.bufferElements(), Sizes.format(plan.bytesRead() + plan.bytesWritten()));
        out.println("output: " + Printable.of(outStatus));
        warnings.forEach(w -> out.println("warning: " + Printable.of(w)));
        List<String> problems = plan.problems();
        if (problems.isEmpty()) {
            out.println("problems: none found (Fisher values are checked while merging)");
        } else {
            out.println("problems: " + problems.size());
            problems.forEach(p -> out.println("  " + Printable.of(p)));
        }
        out.println("dry run: nothing was written");
        out.flush();
    }

    private static int countModels(MergePlan plan) {
        return plan.tensors().stream().filter(t -> t.action() == Action.MERGE).mapToInt(t -> t.models().size()).max().orElse(0);
    }

    /** {@code name [shape] merge: base BF16, models BF16 x3, Fishers F32 x3 -> BF16; alpha [0.5, 1]}. */
    static String describe(TensorPlan t, MergeMethod method) {
        String head = t.output().name() + " " + Arrays.toString(t.output().shape()) + " ";
        if (t.action() == Action.COPY) {
            return head + "copy " + t.output().dtype() + " from " + t.base().source().describe();
        }
        List<String> inputs = new ArrayList<>();
        if (t.base() != null) {
            inputs.add("base " + t.base().dtype());
        }
        inputs.add("models " + dtypes(t.models()));
        if (!t.fishers().isEmpty()) {
            inputs.add("Fishers " + dtypes(t.fishers()));
        }
        if (t.baseFisher() != null) {
            inputs.add("base Fisher " + t.baseFisher().dtype());
        }
        float[] k = method == Method.LINEAR ? t.coefficients().weights() : t.coefficients().alphas();
        String label = method == Method.TASK_ARITHMETIC || method == Method.GRADIENT_MATCHING ? "alpha" : "weights";
        String scales = t.fishers().isEmpty() ? "" : "; Fisher scales " + numbers(t.coefficients().scales());
        return head + "merge: " + String.join(", ", inputs) + " -> " + t.output().dtype() + "; " + label + " " + numbers(k) + scales;
    }

    /** "BF16 x3", or "BF16, F32, BF16" when they differ. */
    private static String dtypes(List<Input> inputs) {
        Map<DType, Integer> counts = new LinkedHashMap<>();
        inputs.forEach(i -> counts.merge(i.dtype(), 1, Integer::sum));
        if (counts.size() == 1) {
            return counts.keySet().iterator().next() + " x" + inputs.size();
        }
        return String.join(", ", inputs.stream().map(i -> i.dtype().name()).toList());
    }

    private static String numbers(float[] v) {
        List<String> s = new ArrayList<>();
        for (float f : v) {
            s.add(f == (long) f ? Long.toString((long) f) : Float.toString(f));
        }
        return "[" + String.join(", ", s) + "]";
    }
}
