package ugm.core.merge;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import ugm.core.DType;
import ugm.core.OutOfRange;
import ugm.core.TensorWarning;
import ugm.core.UgmException;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * Counts, per tensor, what the merge report warns about ({@link MergeReport#nonFinite()}): NaN
 * and infinite values in the decoded input blocks (per input file), values computed from finite
 * inputs that are NaN or infinite once written in the output dtype (the exact result is beyond
 * its range), and the methods' own warnings. The kernels pass non-finite inputs through (NaN in,
 * NaN out) and compute finite inputs carefully, so an output value from finite inputs is
 * infinite only where the exact result overflows the output. A Fisher value that is NaN is an
 * error (checked before); an infinite one is counted here. An F64 input value beyond the float32
 * range ugm computes in is an error naming the tensor and element: read as float32 it would be an
 * infinity, and the promise that finite inputs give finite outputs could not hold.
 *
 * <p>Blocks without any are the common case and cost one vector compare per input and one for
 * the output; counts are kept only for the rare tensors that have some. Thread-safe: workers
 * share one scan.
 */
final class InputScan {

    private static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Input {@code input} of tensor {@code tensor}; input -1 is the output. */
    private record Key(int tensor, int input) {
    }

    private final List<TensorPlan> tensors;
    private final Map<TensorPlan, Integer> index = new HashMap<>();
    private final Map<Key, long[]> counts = new ConcurrentHashMap<>();
    private final Map<Integer, TensorWarning> methodWarnings = new ConcurrentHashMap<>();

    InputScan(List<TensorPlan> tensors) {
        this.tensors = tensors;
        for (int i = 0; i < tensors.size(); i++) {
            index.put(tensors.get(i), i);
        }
    }

    /**
     * Scans the first {@code n} decoded values of every input of {@code t}, elements
     * {@code [from, from + n)} (null arrays or inputs are skipped).
     *
     * @return whether some input value of the block is NaN or infinite
     * @throws UgmException (invalid input) for an F64 value beyond the float32 range
     */
    boolean block(Kernels k, TensorPlan t, long from, float[][] models, float[] base, float[][] fishers, float[] baseFisher, int n) {
        boolean found = false;
        for (int i = 0; i < t.models().size(); i++) {
            found |= scan(k, t, i, t.models().get(i), from, models[i], n);
        }
        int at = t.models().size();
        for (int i = 0; i < t.fishers().size(); i++) {
            found |= scan(k, t, at + i, t.fishers().get(i), from, fishers[i], n);
        }
        at += t.fishers().size();
        if (t.base() != null) {
            found |= scan(k, t, at, t.base(), from, base, n);
        }
        if (t.baseFisher() != null) {
            found |= scan(k, t, at + 1, t.baseFisher(), from, baseFisher, n);
        }
        return found;
    }

    private boolean scan(Kernels k, TensorPlan t, int input, Input in, long from, float[] x, int n) {
        int bad = k.countNonFinite(x, n);
        if (bad == 0) {
            return false;
        }
        long nan = 0;
        for (int i = 0; i < n; i++) {
            nan += Float.isNaN(x[i]) ? 1 : 0;
            if (in.dtype() == DType.F64 && Float.isInfinite(x[i])) {
                double v = in.data().get(DOUBLE_LE, 8 * (from + i));
                if (Double.isFinite(v)) {
                    String name = t.output().name();
                    throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + name + "' in " + in.source().locate(name)
                            + ": F64 value " + v + " at element " + (from + i) + " is beyond the float32 range ugm merges in (±"
                            + Float.MAX_VALUE + ")");
                }
            }
        }
        long[] c = counts.computeIfAbsent(new Key(index.get(t), input), key -> new long[2]);
        synchronized (c) {
            c[0] += nan;
            c[1] += bad - nan;
        }
        return true;
    }

    /**
     * Counts the values of {@code out[0, n)} that are NaN or infinite once encoded in {@code t}'s
     * output dtype although every input of their element is finite. {@code inputsNonFinite}: what
     * {@link #block} returned for these elements (where false, no element needs its inputs checked).
     */
    void output(Kernels k, TensorPlan t, float[] out, int n, float[][] models, float[] base, float[][] fishers,
                float[] baseFisher, boolean inputsNonFinite) {
        DType type = t.output().dtype();
        if (k.countNonFiniteAs(type, out, n) == 0) {
            return;
        }
        float limit = Kernels.largestEncodable(type);
        long nan = 0;
        long infinite = 0;
        for (int j = 0; j < n; j++) {
            if (Math.abs(out[j]) <= limit || inputsNonFinite && !inputsFinite(t, j, models, base, fishers, baseFisher)) {
                continue;
            }
            if (Float.isNaN(out[j])) {
                nan++;
            } else {
                infinite++;
            }
        }
        if (nan + infinite == 0) {
            return;
        }
        long[] c = counts.computeIfAbsent(new Key(index.get(t), -1), key -> new long[2]);
        synchronized (c) {
            c[0] += nan;
            c[1] += infinite;
        }
    }

    private static boolean inputsFinite(TensorPlan t, int j, float[][] models, float[] base, float[][] fishers, float[] baseFisher) {
        for (int i = 0; i < t.models().size(); i++) {
            if (!Float.isFinite(models[i][j])) {
                return false;
            }
        }
        for (int i = 0; i < t.fishers().size(); i++) {
            if (!Float.isFinite(fishers[i][j])) {
                return false;
            }
        }
        return (t.base() == null || Float.isFinite(base[j])) && (t.baseFisher() == null || Float.isFinite(baseFisher[j]));
    }

    /** A method's warning about tensor {@code t} (at most one per tensor). */
    void warn(TensorPlan t, TensorWarning w) {
        methodWarnings.put(index.get(t), w);
    }

    /**
     * What was found, in the plan's tensor order; per tensor, the inputs in their order (models,
     * Fishers, base, base Fisher), then the output, then the method's warning.
     */
    List<TensorWarning> findings() {
        List<Map.Entry<Key, long[]>> found = new ArrayList<>(counts.entrySet());
        found.sort(Comparator.comparingInt((Map.Entry<Key, long[]> e) -> e.getKey().tensor())
                .thenComparingInt(e -> e.getKey().input() < 0 ? Integer.MAX_VALUE : e.getKey().input()));
        List<TensorWarning> out = new ArrayList<>();
        int next = 0;
        List<Integer> warned = new ArrayList<>(methodWarnings.keySet());
        warned.sort(null);
        for (Map.Entry<Key, long[]> e : found) {
            int tensor = e.getKey().tensor();
            while (next < warned.size() && warned.get(next) < tensor) {
                out.add(methodWarnings.get(warned.get(next++)));
            }
            TensorPlan t = tensors.get(tensor);
            String name = t.output().name();
            long[] c = e.getValue();
            synchronized (c) {
                if (e.getKey().input() < 0) {
                    out.add(new OutOfRange(name, t.output().dtype(), c[1], c[0]));
                } else {
                    Input in = inputAt(t, e.getKey().input());
                    out.add(new MergeReport.NonFinite(name, in.source().locate(name), c[0], c[1]));
                }
            }
        }
        while (next < warned.size()) {
            out.add(methodWarnings.get(warned.get(next++)));
        }
        return out;
    }

    private static Input inputAt(TensorPlan t, int i) {
        int m = t.models().size();
        int f = t.fishers().size();
        if (i < m) {
            return t.models().get(i);
        }
        if (i < m + f) {
            return t.fishers().get(i - m);
        }
        return i == m + f && t.base() != null ? t.base() : t.baseFisher();
    }
}
