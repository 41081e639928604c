package ugm.core.merge;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;

/**
 * Weights a checkpoint may leave out because its model ties them to another tensor (the output
 * head to the token embeddings), with the names mergekit's architecture definitions give them
 * (their {@code tied_names}). As in mergekit: when some input holds such a weight itself, the
 * merge writes it, and each input without it supplies the tensor it is tied to instead; when no
 * input holds it, the output leaves it out too.
 */
public final class TiedWeights {

    /** Each weight that may be tied, with the tensors it may be tied to (the first one present counts). */
    private static final Map<String, List<String>> TIED = Map.of(
            "lm_head.weight", List.of("model.embed_tokens.weight", // Llama, Mistral, Qwen, Gemma, Phi-3 small, OLMo 2, ...
                    "transformer.wte.weight", "wte.weight", // GPT-2, GPT-BigCode
                    "model.language_model.embed_tokens.weight", // Qwen3-VL
                    "backbone.embeddings.weight", // Mamba
                    "shared.weight"), // T5
            "output.weight", List.of("model.tok_embeddings.weight"), // InternLM2
            "lm_head.decoder.weight", List.of("roberta.embeddings.word_embeddings.weight"),
            "cls.predictions.decoder.weight", List.of("bert.embeddings.word_embeddings.weight"),
            "vocab_projector.weight", List.of("distilbert.embeddings.word_embeddings.weight"),
            "encoder.embed_tokens.weight", List.of("shared.weight"), // T5
            "decoder.embed_tokens.weight", List.of("shared.weight"));

    private TiedWeights() {
    }

    /** The token embeddings and output heads among the names it knows (mergekit's {@code is_embed} weights). */
    public static Set<String> embeddings() {
        Set<String> all = new java.util.TreeSet<>(TIED.keySet());
        TIED.values().forEach(all::addAll);
        return all;
    }

    /** The weights that may be tied which some of {@code inputs} hold themselves: the merge writes them. */
    public static Set<String> written(Collection<? extends TensorSource> inputs) {
        Set<String> out = new LinkedHashSet<>();
        for (String name : TIED.keySet().stream().sorted().toList()) {
            if (inputs.stream().anyMatch(s -> s.info(name) != null)) {
                out.add(name);
            }
        }
        return out;
    }

    /**
     * The weights of {@code written} that {@code source} lacks, each with the tensor it is tied to
     * there (only those whose tied tensor it holds), in the order of {@code written}.
     */
    public static Map<String, String> ties(TensorSource source, Set<String> written) {
        Map<String, String> ties = new LinkedHashMap<>();
        for (String name : written) {
            if (source.info(name) == null) {
                TIED.get(name).stream().filter(t -> source.info(t) != null).findFirst().ifPresent(t -> ties.put(name, t));
            }
        }
        return ties;
    }

    /**
     * {@code source} with each weight of {@code ties} (as {@link #ties} gives them) present under
     * its own name, holding the bytes of the tensor it is tied to; {@code source} itself when
     * {@code ties} is empty. The tied weights come after the source's own tensors.
     */
    public static TensorSource view(TensorSource source, Map<String, String> ties) {
        return ties.isEmpty() ? source : new Tied(source, Map.copyOf(ties));
    }

    private static final class Tied implements TensorSource {
        private final TensorSource source;
        private final Map<String, String> ties;
        private final List<TensorInfo> tensors;

        Tied(TensorSource source, Map<String, String> ties) {
            this.source = source;
            this.ties = ties;
            List<TensorInfo> all = new ArrayList<>(source.tensors());
            ties.keySet().stream().sorted().forEach(n -> all.add(info(n)));
            this.tensors = List.copyOf(all);
        }

        /** The name of the tensor whose bytes stand for {@code name}. */
        private String read(String name) {
            return ties.getOrDefault(name, name);
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
            String tied = ties.get(name);
            if (tied == null) {
                return source.info(name);
            }
            TensorInfo t = source.info(tied);
            return new TensorInfo(name, t.dtype(), t.shape());
        }

        @Override
        public MemorySegment data(String name) {
            return source.data(read(name));
        }

        @Override
        public void release(String name) {
            source.release(read(name));
        }

        @Override
        public String locate(String name) {
            String tied = ties.get(name);
            return tied == null ? source.locate(name) : source.locate(tied) + " (its " + tied + ", tied)";
        }

        @Override
        public String changedFile(String name) {
            return source.changedFile(read(name));
        }
    }
}
