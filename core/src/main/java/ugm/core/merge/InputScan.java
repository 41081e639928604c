package ugm.core.merge;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * Counts NaN and infinite values in the decoded input blocks of a merge, per tensor and input
 * file, for the report's warnings ({@link MergeReport#nonFinite()}). The kernels pass such values
 * through (NaN in, NaN out); the engine itself never makes a NaN from finite inputs. A Fisher
 * value that is NaN is an error (checked before); an infinite one is counted here.
 *
 * <p>Blocks without any are the common case and cost one vector compare per input; counts are
 * kept only for the rare tensors that have some. Thread-safe: workers share one scan.
 */
final class InputScan {

    private record Key(int tensor, int input) {
    }

    private final List<TensorPlan> tensors;
    private final Map<TensorPlan, Integer> index = new HashMap<>();
    private final Map<Key, long[]> counts = new ConcurrentHashMap<>();

    InputScan(List<TensorPlan> tensors) {
        this.tensors = tensors;
        for (int i = 0; i < tensors.size(); i++) {
            index.put(tensors.get(i), i);
        }
    }

    /** Scans the first {@code n} decoded values of every input of {@code t} (null arrays or inputs are skipped). */
    void block(Kernels k, TensorPlan t, float[][] models, float[] base, float[][] fishers, float[] baseFisher, int n) {
        for (int i = 0; i < t.models().size(); i++) {
            scan(k, t, i, models[i], n);
        }
        int at = t.models().size();
        for (int i = 0; i < t.fishers().size(); i++) {
            scan(k, t, at + i, fishers[i], n);
        }
        at += t.fishers().size();
        if (t.base() != null) {
            scan(k, t, at, base, n);
        }
        if (t.baseFisher() != null) {
            scan(k, t, at + 1, baseFisher, n);
        }
    }

    private void scan(Kernels k, TensorPlan t, int input, float[] x, int n) {
        int bad = k.countNonFinite(x, n);
        if (bad == 0) {
            return;
        }
        long nan = 0;
        for (int i = 0; i < n; i++) {
            nan += Float.isNaN(x[i]) ? 1 : 0;
        }
        long[] c = counts.computeIfAbsent(new Key(index.get(t), input), key -> new long[2]);
        synchronized (c) {
            c[0] += nan;
            c[1] += bad - nan;
        }
    }

    /** What was found, in the plan's tensor order and the inputs' order (models, Fishers, base, base Fisher). */
    List<MergeReport.NonFinite> findings() {
        List<Map.Entry<Key, long[]>> found = new ArrayList<>(counts.entrySet());
        found.sort(Comparator.comparingInt((Map.Entry<Key, long[]> e) -> e.getKey().tensor())
                .thenComparingInt(e -> e.getKey().input()));
        List<MergeReport.NonFinite> out = new ArrayList<>();
        for (Map.Entry<Key, long[]> e : found) {
            TensorPlan t = tensors.get(e.getKey().tensor());
            Input in = inputAt(t, e.getKey().input());
            String name = t.output().name();
            synchronized (e.getValue()) {
                out.add(new MergeReport.NonFinite(name, in.source().locate(name), e.getValue()[0], e.getValue()[1]));
            }
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
