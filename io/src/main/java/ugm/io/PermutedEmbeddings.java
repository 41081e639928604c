package ugm.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.io.TokenizerMerge.Fill;
import ugm.io.TokenizerMerge.Plan;

/**
 * Input {@code index} of a merge with a tokenizer source, as the merge reads it: its embedding
 * tensors (2-D tensors named in {@code embeddings}) have one row per token of the output
 * vocabulary, as {@link Plan} says (its own row, or the default: a row of another input, the mean
 * of several, or zeros; then padding rows, the mean of the others); every other tensor is its own.
 * The rows are copied into an unlinked temporary file the first time a tensor is read (means
 * computed in double, rounded once to the tensor's dtype); the heap holds a row at most.
 */
public final class PermutedEmbeddings implements TensorSource, AutoCloseable {
    private static final int BLOCK = 1 << 14;

    private final TensorSource source;
    private final int index;
    private final List<TensorSource> inputs;
    private final Plan plan;
    private final Map<String, TensorInfo> changed = new HashMap<>();
    private final List<TensorInfo> tensors;
    private final Map<String, MemorySegment> built = new HashMap<>();
    private final Arena arena = Arena.ofShared();

    /**
     * @param inputs every input of the plan in its order (null for one without such tensors), {@code source} at {@code index}
     */
    public PermutedEmbeddings(TensorSource source, int index, List<TensorSource> inputs, Plan plan, Set<String> embeddings) {
        this.source = source;
        this.index = index;
        this.inputs = inputs;
        this.plan = plan;
        List<TensorInfo> all = new ArrayList<>();
        for (TensorInfo t : source.tensors()) {
            if (embeddings.contains(t.name()) && t.shape().length == 2 && !plan.identity(index, t.shape()[0])) {
                t = new TensorInfo(t.name(), t.dtype(), new long[] {plan.rows(), t.shape()[1]});
                changed.put(t.name(), t);
            }
            all.add(t);
        }
        this.tensors = List.copyOf(all);
    }

    /** Whether it differs from its source at all. */
    public boolean changes() {
        return !changed.isEmpty();
    }

    @Override
    public String describe() {
        return source.describe();
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = changed.get(name);
        return t != null ? t : source.info(name);
    }

    @Override
    public MemorySegment data(String name) {
        TensorInfo t = changed.get(name);
        if (t == null) {
            return source.data(name);
        }
        synchronized (built) {
            return built.computeIfAbsent(name, n -> build(t));
        }
    }

    @Override
    public void release(String name) {
        if (!changed.containsKey(name)) {
            source.release(name);
        }
    }

    @Override
    public String locate(String name) {
        return changed.containsKey(name) ? source.locate(name) + " (its rows in the output tokenizer's order)" : source.locate(name);
    }

    @Override
    public String changedFile(String name) {
        return source.changedFile(name);
    }

    private MemorySegment build(TensorInfo t) {
        DType type = t.dtype();
        int cols = (int) t.shape()[1];
        long rowBytes = type.byteSize(cols);
        MemorySegment out = DiskSpace.temporaryMapping(rowBytes * plan.rows(), arena, "ugm-embed-", t.name() + " in the output vocabulary");
        MemorySegment own = source.data(t.name());
        long ownRows = source.info(t.name()).shape()[0];
        double[] sum = new double[cols];
        double[] row = new double[cols];
        float[] buf = new float[Math.min(BLOCK, cols)];
        for (int id = 0; id < plan.tokens(); id++) {
            int r = plan.own(index, id);
            if (r >= 0) {
                if (r >= ownRows) {
                    throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + t.name() + "' of " + source.describe() + " has "
                            + ownRows + " rows, but its tokenizer gives a token id " + r);
                }
                MemorySegment.copy(own, r * rowBytes, out, id * rowBytes, rowBytes);
                continue;
            }
            Fill f = plan.defaults()[id];
            if (f.inputs().length == 1 && input(f.inputs()[0], t, cols).dtype() == type) {
                MemorySegment.copy(inputs.get(f.inputs()[0]).data(t.name()), f.rows()[0] * rowBytes, out, id * rowBytes, rowBytes);
            } else if (f.inputs().length > 0) {
                java.util.Arrays.fill(sum, 0);
                for (int k = 0; k < f.inputs().length; k++) {
                    TensorInfo in = input(f.inputs()[k], t, cols);
                    if (f.rows()[k] >= in.shape()[0]) {
                        throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + t.name() + "' of "
                                + inputs.get(f.inputs()[k]).describe() + " has " + in.shape()[0] + " rows, but row " + f.rows()[k] + " is read");
                    }
                    LoraAdapter.read(in.dtype(), inputs.get(f.inputs()[k]).data(t.name()), (long) f.rows()[k] * cols, cols, row, buf);
                    for (int c = 0; c < cols; c++) {
                        sum[c] += row[c];
                    }
                }
                for (int c = 0; c < cols; c++) {
                    sum[c] /= f.inputs().length;
                }
                LoraAdapter.write(type, sum, cols, out, (long) id * cols, buf);
            }
        }
        if (plan.rows() > plan.tokens()) {
            java.util.Arrays.fill(sum, 0);
            for (int id = 0; id < plan.tokens(); id++) {
                LoraAdapter.read(type, out, (long) id * cols, cols, row, buf);
                for (int c = 0; c < cols; c++) {
                    sum[c] += row[c];
                }
            }
            for (int c = 0; c < cols; c++) {
                sum[c] /= plan.tokens();
            }
            for (int id = plan.tokens(); id < plan.rows(); id++) {
                LoraAdapter.write(type, sum, cols, out, (long) id * cols, buf);
            }
        }
        return out.asReadOnly();
    }

    /** The tensor of input {@code i} a default reads, checked to have {@code cols} columns. */
    private TensorInfo input(int i, TensorInfo t, int cols) {
        TensorSource s = inputs.get(i);
        TensorInfo in = s == null ? null : s.info(t.name());
        if (in == null || in.shape().length != 2) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + t.name() + "' of " + source.describe()
                    + " needs rows of " + (s == null ? "another input" : s.describe()) + ", which has no such 2-D tensor");
        }
        if (in.shape()[1] != cols) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + t.name() + "' has " + cols + " columns in "
                    + source.describe() + " but " + in.shape()[1] + " in " + s.describe());
        }
        return in;
    }

    @Override
    public void close() {
        arena.close();
    }
}
