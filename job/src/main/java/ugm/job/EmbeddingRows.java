package ugm.job;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.merge.TiedWeights;
import ugm.core.merge.methods.Method;

/**
 * mergekit's answer to embeddings (and output heads) of different row counts when no tokenizer
 * source is given: the methods that take the common submatrix ({@code linear}, {@code slerp},
 * {@code nuslerp}, {@code karcher}, {@code model_stock}, {@code arcee_fusion}) merge the first
 * rows all inputs have; the task-vector family (and gradient matching, which is ugm's) cut each
 * model to the base's rows, and a model with fewer rows than the base is an error. Any other
 * method, or a difference in columns, is left to the merge's shape check.
 */
final class EmbeddingRows {
    private static final Set<Method> COMMON = Set.of(Method.LINEAR, Method.SLERP, Method.NUSLERP, Method.KARCHER,
            Method.MODEL_STOCK, Method.ARCEE_FUSION);

    private EmbeddingRows() {
    }

    /**
     * The rows each embedding of {@code inputs} (the base last, when {@code hasBase}) is cut to,
     * by name, for {@code method}; empty when they agree. What the user should hear goes to {@code warnings}.
     *
     * @throws UgmException of kind INVALID_INPUT when a model has fewer rows than the base and the method cuts to the base's rows
     */
    static Map<String, Long> rows(List<TensorSource> inputs, boolean hasBase, Method method, List<String> warnings) {
        Map<String, Long> cut = new LinkedHashMap<>();
        boolean toBase = hasBase && (Method.taskVectorFamily().contains(method)
                || method == Method.TASK_ARITHMETIC || method == Method.GRADIENT_MATCHING);
        if (!COMMON.contains(method) && !toBase) {
            return cut;
        }
        for (String name : TiedWeights.embeddings()) {
            List<TensorInfo> infos = new ArrayList<>();
            for (TensorSource s : inputs) {
                TensorInfo t = s.info(name);
                if (t == null || t.shape().length != 2) {
                    infos = null;
                    break;
                }
                infos.add(t);
            }
            if (infos == null || infos.stream().map(t -> t.shape()[1]).distinct().count() != 1
                    || infos.stream().map(t -> t.shape()[0]).distinct().count() == 1) {
                continue;
            }
            long min = infos.stream().mapToLong(t -> t.shape()[0]).min().orElseThrow();
            long max = infos.stream().mapToLong(t -> t.shape()[0]).max().orElseThrow();
            if (toBase) {
                long rows = infos.getLast().shape()[0];
                for (int i = 0; i < infos.size() - 1; i++) {
                    if (infos.get(i).shape()[0] < rows) {
                        throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + name + "' has " + infos.get(i).shape()[0]
                                + " rows in " + inputs.get(i).locate(name) + ", fewer than the base's " + rows + " (" + inputs.getLast().locate(name)
                                + "): " + method + " cuts each model's embeddings to the base's rows, as mergekit does, and cannot grow"
                                + " them; give a tokenizer source (tokenizer_source: base) to rebuild them");
                    }
                }
                cut.put(name, rows);
                warnings.add("tensor '" + name + "' has " + min + " to " + max + " rows in the inputs: each model's is cut to the base's "
                        + rows + " rows (as mergekit's " + method + " does with embeddings of different sizes)");
            } else {
                cut.put(name, min);
                warnings.add("tensor '" + name + "' has " + min + " to " + max + " rows in the inputs: the first " + min
                        + " rows, which all have, are merged (as mergekit takes the common submatrix of embeddings of different sizes)");
            }
        }
        return cut;
    }

    /** {@code source} with each tensor of {@code cut} it has more rows of cut to its first rows; itself when none is. */
    static TensorSource view(TensorSource source, Map<String, Long> cut) {
        Map<String, TensorInfo> changed = new LinkedHashMap<>();
        cut.forEach((name, rows) -> {
            TensorInfo t = source.info(name);
            if (t != null && t.shape().length == 2 && t.shape()[0] > rows) {
                changed.put(name, new TensorInfo(name, t.dtype(), new long[] {rows, t.shape()[1]}));
            }
        });
        return changed.isEmpty() ? source : new Cut(source, changed);
    }

    private record Cut(TensorSource source, Map<String, TensorInfo> changed) implements TensorSource {
        @Override
        public String describe() {
            return source.describe();
        }

        @Override
        public List<TensorInfo> tensors() {
            return source.tensors().stream().map(t -> changed.getOrDefault(t.name(), t)).toList();
        }

        @Override
        public TensorInfo info(String name) {
            TensorInfo t = changed.get(name);
            return t != null ? t : source.info(name);
        }

        @Override
        public MemorySegment data(String name) {
            TensorInfo t = changed.get(name);
            MemorySegment all = source.data(name);
            return t == null ? all : all.asSlice(0, t.byteSize()); // the first rows are the first bytes
        }

        @Override
        public void release(String name) {
            source.release(name);
        }

        @Override
        public String locate(String name) {
            TensorInfo t = changed.get(name);
            return t == null ? source.locate(name) : source.locate(name) + " (its first " + t.shape()[0] + " rows)";
        }

        @Override
        public String changedFile(String name) {
            return source.changedFile(name);
        }
    }
}
