package ugm.job.config;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.util.StringQuotingChecker;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;

/**
 * A merge as the config (or the flags) describes it, model references resolved ({@link ModelRef}):
 * the mergekit schema for ugm's methods plus the gradient-matching keys ({@code fisher},
 * {@code base_fisher}).
 *
 * <p>Immutable.
 *
 * @param dtype           mergekit's compute dtype as written (ugm computes in float32 whatever it says;
 *                        it is the output dtype when {@code outDtype} is absent, as in mergekit)
 * @param tokenizerSource {@code tokenizer_source}, or null
 * @param tokenizer       the {@code tokenizer:} block, or null (never both: mergekit refuses that)
 * @param chatTemplate    {@code chat_template} as written ({@code auto}, a name of {@link ChatTemplates}, or a
 *                        template), or null
 * @param warnings        what reading the config found worth telling (keys ignored, as mergekit ignores them)
 * @param slices          mergekit's {@code slices:} (empty for a {@code models:} config); then {@code models}
 *                        lists each model the slices read once, in order of appearance, without parameters
 */
public record MergeConfig(Method method, ModelRef base, ModelRef baseFisher, List<Model> models, Map<String, Setting> parameters,
                          String dtype, String outDtype, TokenizerSource tokenizerSource, Tokenizer tokenizer,
                          String chatTemplate, List<String> warnings, List<Slice> slices) {

    /**
     * Where the output's tokenizer comes from, as mergekit names it: {@code base} (the base model's,
     * or with no base the first model's), {@code union} (of all the models' vocabularies), or a
     * model folder ({@code model} set).
     */
    public record TokenizerSource(Kind kind, ModelRef model) {
        public enum Kind { BASE, UNION, MODEL }

        public static final TokenizerSource BASE = new TokenizerSource(Kind.BASE, null);
        public static final TokenizerSource UNION = new TokenizerSource(Kind.UNION, null);

        /** As the config writes it: {@code base}, {@code union} or the folder. */
        @Override
        public String toString() {
            return kind == Kind.MODEL ? model.toConfig() : kind.name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * mergekit's {@code tokenizer:} block: {@code source} (mergekit's default is {@code union}),
     * {@code tokens} (token to the embedding it gets, in the config's order) and
     * {@code pad_to_multiple_of} (null: none).
     */
    public record Tokenizer(TokenizerSource source, Map<String, TokenEmbedding> tokens, Integer padToMultipleOf) {
        public Tokenizer {
            tokens = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(tokens));
        }
    }

    /**
     * One entry of {@code tokenizer.tokens}: the token's embedding is {@code model}'s row of it
     * ({@code MODEL}), zeros ({@code ZERO}), or {@code model}'s row of {@code token} or of id
     * {@code tokenId} ({@code MODEL_TOKEN}); with {@code force}, in every model, even one that has the token.
     */
    public record TokenEmbedding(Kind kind, ModelRef model, String token, Integer tokenId, boolean force) {
        public enum Kind { MODEL, ZERO, MODEL_TOKEN }
    }

    /** The tokenizer source in effect: {@code tokenizer_source}, else the block's, else null (the tokenizer copied as it is). */
    public TokenizerSource effectiveTokenizerSource() {
        return tokenizerSource != null ? tokenizerSource : tokenizer != null ? tokenizer.source() : null;
    }

    /** One entry of {@code models}. */
    public record Model(ModelRef model, ModelRef fisher, Map<String, Setting> parameters) {
        public Model {
            parameters = Map.copyOf(parameters);
        }
    }

    /**
     * One entry of {@code slices}: the output layers it adds, merged from its sources' layers.
     *
     * @param base the slice's own {@code base_model}, or null (then the config's)
     */
    public record Slice(List<Source> sources, Path base, Map<String, Setting> parameters) {
        public Slice {
            sources = List.copyOf(sources);
            parameters = Map.copyOf(parameters);
        }

        /** The number of layers the slice adds (its sources all have as many). */
        public int layers() {
            return sources.get(0).to() - sources.get(0).from();
        }
    }

    /** One source of a slice: layers [from, to) of the model at {@code path}. */
    public record Source(Path path, int from, int to, Map<String, Setting> parameters) {
        public Source {
            parameters = Map.copyOf(parameters);
        }
    }

    public MergeConfig {
        models = List.copyOf(models);
        parameters = Map.copyOf(parameters);
        warnings = List.copyOf(warnings);
        slices = List.copyOf(slices);
    }

    /** A {@code models:} config. */
    public MergeConfig(Method method, ModelRef base, ModelRef baseFisher, List<Model> models, Map<String, Setting> parameters,
                       String dtype, String outDtype, TokenizerSource tokenizerSource, Tokenizer tokenizer, String chatTemplate,
                       List<String> warnings) {
        this(method, base, baseFisher, models, parameters, dtype, outDtype, tokenizerSource, tokenizer, chatTemplate, warnings,
                List.of());
    }

    /** A merge with nothing to warn of (one given by options). */
    public MergeConfig(Method method, ModelRef base, ModelRef baseFisher, List<Model> models, Map<String, Setting> parameters,
                       String dtype, String outDtype, TokenizerSource tokenizerSource, Tokenizer tokenizer, String chatTemplate) {
        this(method, base, baseFisher, models, parameters, dtype, outDtype, tokenizerSource, tokenizer, chatTemplate, List.of());
    }

    /** This config with the global parameter {@code key} set to {@code value}. */
    public MergeConfig withParameter(String key, Setting value) {
        Map<String, Setting> p = new java.util.HashMap<>(parameters);
        p.put(key, value);
        return new MergeConfig(method, base, baseFisher, models, p, dtype, outDtype, tokenizerSource, tokenizer, chatTemplate, warnings,
                slices);
    }

    private static final YAMLFactory YAML = YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            .stringQuotingChecker(new Quoting())
            .build();

    /**
     * Jackson's rule for which texts it may write unquoted, and also none with a control character
     * or one of YAML's other line breaks (NEL, LS, PS): written plain, a reader would fold them.
     */
    private static final class Quoting extends StringQuotingChecker.Default {
        @Override
        public boolean needToQuoteValue(String value) {
            return super.needToQuoteValue(value) || value.chars().anyMatch(c -> c < 0x20 || c >= 0x7f && c < 0xa0
                    || c == 0x2028 || c == 0x2029);
        }
    }

    /**
     * The config as YAML that {@code ugm merge} reads back to the same merge: local paths
     * absolute, models from the Hugging Face cache by their id (and revision).
     */
    public String toYaml() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("merge_method", method.id());
        if (base != null) {
            root.put("base_model", base.toConfig());
        }
        if (baseFisher != null) {
            root.put("base_fisher", baseFisher.toConfig());
        }
        if (!slices.isEmpty()) {
            var sl = root.putArray("slices");
            for (Slice slice : slices) {
                ObjectNode o = sl.addObject();
                var sources = o.putArray("sources");
                for (Source src : slice.sources) {
                    ObjectNode e = sources.addObject();
                    e.put("model", src.path.toString());
                    e.putArray("layer_range").add(src.from).add(src.to);
                    if (!src.parameters.isEmpty()) {
                        e.set("parameters", node(src.parameters));
                    }
                }
                if (slice.base != null) {
                    o.put("base_model", slice.base.toString());
                }
                if (!slice.parameters.isEmpty()) {
                    o.set("parameters", node(slice.parameters));
                }
            }
        }
        var list = slices.isEmpty() ? root.putArray("models") : null;
        for (Model m : list == null ? List.<Model>of() : models) {
            ObjectNode e = list.addObject();
            e.put("model", m.model.toConfig());
            if (m.fisher != null) {
                e.put("fisher", m.fisher.toConfig());
            }
            if (!m.parameters.isEmpty()) {
                e.set("parameters", node(m.parameters));
            }
        }
        if (!parameters.isEmpty()) {
            root.set("parameters", node(parameters));
        }
        if (dtype != null) {
            root.put("dtype", dtype);
        }
        if (outDtype != null) {
            root.put("out_dtype", outDtype);
        }
        if (tokenizerSource != null) {
            root.put("tokenizer_source", tokenizerSource.toString());
        }
        if (tokenizer != null) {
            ObjectNode t = root.putObject("tokenizer");
            t.put("source", tokenizer.source().toString());
            if (!tokenizer.tokens().isEmpty()) {
                ObjectNode tokens = t.putObject("tokens");
                tokenizer.tokens().forEach((token, e) -> {
                    ObjectNode entry = tokens.putObject(token);
                    switch (e.kind()) {
                        case MODEL -> entry.put("source", e.model().toConfig());
                        case ZERO -> entry.putObject("source").put("kind", "zero");
                        case MODEL_TOKEN -> {
                            ObjectNode src = entry.putObject("source").put("kind", "model_token").put("model", e.model().toConfig());
                            if (e.token() != null) {
                                src.put("token", e.token());
                            } else {
                                src.put("token_id", e.tokenId());
                            }
                        }
                    }
                    if (e.force()) {
                        entry.put("force", true);
                    }
                });
            }
            if (tokenizer.padToMultipleOf() != null) {
                t.put("pad_to_multiple_of", tokenizer.padToMultipleOf());
            }
        }
        if (chatTemplate != null) {
            root.put("chat_template", chatTemplate);
        }
        return Trees.write(YAML, root, false);
    }

    /** Parameters in catalogue order, then any others (mergekit's) by name: stable output. */
    private static ObjectNode node(Map<String, Setting> params) {
        Map<String, Setting> ordered = new LinkedHashMap<>();
        for (Parameter p : Parameter.values()) {
            if (params.containsKey(p.key())) {
                ordered.put(p.key(), params.get(p.key()));
            }
        }
        params.keySet().stream().sorted().forEach(k -> ordered.putIfAbsent(k, params.get(k)));
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ordered.forEach((k, v) -> o.set(k, v.toNode()));
        return o;
    }
}
