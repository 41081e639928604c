package ugm.io.fisher;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What ugm knows of a model family's module tree, to rebuild the order of
 * {@code model.named_parameters()} from the tensor names alone (a safetensors header sorts them).
 *
 * <p>{@code named_parameters()} walks the modules depth first in the order each module registered
 * its children, a module's own parameters before its children's. So two names are ordered at
 * their first differing component: a parameter of the common module before a submodule, layer
 * indices by number, and other children by their registration rank. One list per family gives
 * every child's rank: it is consistent with each module's own order (q_proj before k_proj in an
 * attention block, self_attn before mlp in a layer, embed_tokens before layers before norm in the
 * model, ...). A component the list lacks means the model is not what the family describes, and
 * the order cannot be rebuilt.
 *
 * <p>Norm components name the modules the Trainer leaves out of weight decay: {@code torch}
 * LayerNorms always, RMSNorm classes when the transformers version registers them (variant A) or
 * matches their names (variant B); see {@link ParamOrder}.
 */
enum Family {
    /** LlamaForCausalLM and its kin: Mistral, Qwen2 (q/k/v biases), Gemma; *ForSequenceClassification's score. */
    DECODER("llama, mistral, qwen2, gemma",
            Set.of("llama", "mistral", "qwen2", "gemma"),
            List.of("model", "embed_tokens", "layers", "self_attn", "q_proj", "k_proj", "v_proj", "o_proj", "mlp",
                    "gate_proj", "up_proj", "down_proj", "input_layernorm", "post_attention_layernorm", "norm", "lm_head",
                    "score"),
            Set.of(), Set.of("input_layernorm", "post_attention_layernorm", "norm"),
            Map.of("lm_head.weight", "model.embed_tokens.weight")),
    /** GPT2LMHeadModel, GPT2Model, GPT2ForSequenceClassification. */
    GPT2("gpt2", Set.of("gpt2"),
            List.of("transformer", "wte", "wpe", "h", "ln_1", "attn", "c_attn", "c_fc", "c_proj", "ln_2", "mlp", "ln_f",
                    "lm_head", "score"),
            Set.of("ln_1", "ln_2", "ln_f"), Set.of(),
            Map.of("lm_head.weight", "transformer.wte.weight")),
    /** BERT and RoBERTa encoders with their usual heads (masked LM, pre-training, classification, QA). */
    ENCODER("bert, roberta", Set.of("bert", "roberta", "xlm-roberta"),
            List.of("bert", "roberta", "embeddings", "word_embeddings", "position_embeddings", "token_type_embeddings",
                    "encoder", "layer", "attention", "self", "query", "key", "value", "intermediate", "output", "dense",
                    "LayerNorm", "layer_norm", "pooler", "cls", "predictions", "transform", "decoder", "seq_relationship",
                    "classifier", "out_proj", "qa_outputs", "lm_head"),
            Set.of("LayerNorm", "layer_norm"), Set.of(),
            Map.of("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight",
                    "cls.predictions.decoder.bias", "cls.predictions.bias",
                    "lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight",
                    "lm_head.decoder.bias", "lm_head.bias"));

    /** A parameter's own name within its module, in registration order. */
    static final List<String> PARAMETERS = List.of("weight", "bias");

    /** Names of floating buffers that state dicts carry (not parameters): rotary frequencies, GPT-2's attention mask. */
    private static final Pattern BUFFER = Pattern.compile("(^|.*\\.)(inv_freq|masked_bias|position_ids|token_type_ids)$");
    private static final Pattern GPT2_MASK = Pattern.compile("(^|.*\\.)h\\.\\d+\\.attn\\.bias$");

    /**
     * Norm module names in models of no known family, by the patterns transformers matches and
     * the usual spellings: layernorm, rmsnorm, layer_norm, a component {@code norm} or ending in
     * {@code _norm}, {@code ln}, {@code ln_*}.
     */
    private static final Pattern GENERIC_NORM = Pattern.compile("layernorm|rmsnorm|layer_norm|norm|.*_norm|ln|ln_.*|.*norm\\d*");

    final String models;
    final Set<String> modelTypes;
    private final Map<String, Integer> rank;
    /** Components that are torch LayerNorm modules (always out of weight decay). */
    final Set<String> torchNorms;
    /** Components that are RMSNorm classes (out of weight decay where the transformers version says so). */
    final Set<String> otherNorms;
    /** Output embeddings tied to input embeddings: name to the name it is tied to. */
    final Map<String, String> tied;

    Family(String models, Set<String> modelTypes, List<String> order, Set<String> torchNorms, Set<String> otherNorms,
           Map<String, String> tied) {
        this.models = models;
        this.modelTypes = modelTypes;
        this.rank = new HashMap<>();
        for (int i = 0; i < order.size(); i++) {
            rank.put(order.get(i), i);
        }
        this.torchNorms = torchNorms;
        this.otherNorms = otherNorms;
        this.tied = tied;
    }

    /** The family of a config.json's {@code model_type}, or null. */
    static Family of(String modelType) {
        if (modelType == null) {
            return null;
        }
        for (Family f : values()) {
            if (f.modelTypes.contains(modelType.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        return null;
    }

    /** The model types ugm rebuilds the order of, for messages. */
    static String known() {
        StringBuilder sb = new StringBuilder();
        for (Family f : values()) {
            sb.append(sb.isEmpty() ? "" : ", ").append(f.models);
        }
        return sb.toString();
    }

    /** A component the family's list lacks, thrown while sorting. */
    static final class Unknown extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String component;
        final String name;

        Unknown(String component, String name) {
            super(null, null, false, false);
            this.component = component;
            this.name = name;
        }
    }

    /**
     * Compares two parameter names in {@code named_parameters()} order.
     *
     * @throws Unknown when a component needed for the comparison is not in the family's list
     */
    int compare(String a, String b) {
        String[] x = a.split("\\.", -1);
        String[] y = b.split("\\.", -1);
        int n = Math.min(x.length, y.length);
        for (int i = 0; i < n; i++) {
            if (x[i].equals(y[i])) {
                continue;
            }
            boolean xLeaf = i == x.length - 1;
            boolean yLeaf = i == y.length - 1;
            if (xLeaf != yLeaf) {
                return xLeaf ? -1 : 1; // a module's own parameters come before its children's
            }
            if (xLeaf) {
                return Integer.compare(parameterRank(x[i], a), parameterRank(y[i], b));
            }
            boolean xNum = isIndex(x[i]);
            boolean yNum = isIndex(y[i]);
            if (xNum && yNum) {
                return Long.compare(Long.parseLong(x[i]), Long.parseLong(y[i]));
            }
            return Integer.compare(childRank(x[i], a), childRank(y[i], b));
        }
        return Integer.compare(x.length, y.length);
    }

    /** Every component of the name is one the family knows. */
    void requireKnown(String name) {
        String[] parts = name.split("\\.", -1);
        for (int i = 0; i < parts.length; i++) {
            if (i == parts.length - 1) {
                parameterRank(parts[i], name);
            } else if (!isIndex(parts[i])) {
                childRank(parts[i], name);
            }
        }
    }

    private int childRank(String component, String name) {
        Integer r = rank.get(component);
        if (r == null) {
            throw new Unknown(component, name);
        }
        return r;
    }

    private static int parameterRank(String component, String name) {
        int r = PARAMETERS.indexOf(component);
        if (r < 0) {
            throw new Unknown(component, name);
        }
        return r;
    }

    private static boolean isIndex(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether a floating tensor of a state dict is a buffer, not a parameter: rotary frequencies,
     * position ids, GPT-2's causal mask and masked_bias.
     */
    static boolean isBuffer(String name, int rank) {
        return BUFFER.matcher(name).matches() || (rank == 4 && GPT2_MASK.matcher(name).matches());
    }

    /** How a decay rule treats norm modules; see {@link ParamOrder}. */
    enum NormRule {
        /** Every norm module is out of weight decay (torch LayerNorm, and RMSNorm classes registered as LayerNorm-like). */
        ALL_NORMS,
        /** torch LayerNorms and modules named like layernorm/rmsnorm; a bare {@code norm} RMSNorm decays. */
        NAMED_NORMS,
        /** Only torch LayerNorms (RMSNorm classes decay: transformers versions that knew neither). */
        TORCH_NORMS
    }

    /**
     * Whether the Trainer puts the parameter in the group without weight decay: its name contains
     * {@code bias}, or it belongs to a norm module as the rule says. {@code family} null: a model
     * of no known family, whose norm modules are recognised by {@link #GENERIC_NORM}.
     */
    static boolean noDecay(Family family, NormRule rule, String name) {
        if (name.contains("bias")) {
            return true;
        }
        String[] parts = name.split("\\.", -1);
        for (int i = 0; i < parts.length - 1; i++) {
            String c = parts[i];
            String lower = c.toLowerCase(Locale.ROOT);
            boolean named = lower.contains("layernorm") || lower.contains("rmsnorm");
            if (family != null) {
                if (family.torchNorms.contains(c)) {
                    return true;
                }
                if (family.otherNorms.contains(c) && (rule == NormRule.ALL_NORMS || (rule == NormRule.NAMED_NORMS && named))) {
                    return true;
                }
            } else if (GENERIC_NORM.matcher(lower).matches()) {
                if (rule == NormRule.ALL_NORMS || (rule == NormRule.NAMED_NORMS && named)) {
                    return true;
                }
            }
        }
        return false;
    }
}
