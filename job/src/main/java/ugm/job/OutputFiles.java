package ugm.job;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.DType;
import ugm.core.UgmException;
import ugm.io.ModelConfig;
import ugm.io.ModelFiles;
import ugm.io.OutputFolder;
import ugm.io.TokenizerMerge;
import ugm.io.Vocabulary;
import ugm.job.config.ModelRef;
import ugm.job.config.ChatTemplates;
import ugm.job.config.Trees;
import ugm.job.config.ConfigException;
import ugm.job.config.MergeConfig;
import ugm.job.config.MergeConfig.TokenizerSource;

/**
 * The output folder's files besides the weights, as mergekit writes them, chosen and checked
 * before the merge:
 * <ul>
 *   <li>config.json and the other model files (generation config, ...) come from the base model,
 *       or with no base from the first model (mergekit's donor), config.json with
 *       {@code torch_dtype} set to the output dtype;</li>
 *   <li>the tokenizer files ({@link ModelFiles#isTokenizerFile}) from the tokenizer source: the
 *       donor's, unless {@code tokenizer_source} (or {@code tokenizer.source}) names another
 *       model. With a tokenizer source the output vocabulary is built as mergekit builds it
 *       ({@link TokenizerMerge}), its tokenizer written with the tokens it adds, config.json's
 *       {@code vocab_size} set to its rows, and {@link #embeddings} tells the merge how to
 *       rebuild each input's embeddings for it;</li>
 *   <li>{@code chat_template} replaces the tokenizer's template: written to
 *       {@code chat_template.jinja} and dropped from {@code tokenizer_config.json}, as
 *       transformers saves a tokenizer.</li>
 * </ul>
 */
final class OutputFiles {
    /** JSON as the inputs' files may hold it (NaN and the infinities too); written pretty-printed ({@link Trees}). */
    private static final JsonFactory JSON = JsonFactory.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private final ModelFiles donor;
    private final ModelFiles tokenizer;
    private final boolean built;
    private final String chatTemplate;
    private final List<Path> inputs;
    /** chat_template as the config gives it (null: none), though {@link #chatTemplate} may be null. */
    private final String requested;
    /** The output's layers for a {@code slices:} merge (config.json's layer count follows them), else null. */
    private final SliceStack stack;
    /** The embeddings and vocabulary a tokenizer source gives, else null. */
    private final Embeddings embeddings;

    private OutputFiles(ModelFiles donor, ModelFiles tokenizer, boolean built, String chatTemplate, List<Path> inputs,
                        String requested, SliceStack stack, Embeddings embeddings) {
        this.embeddings = embeddings;
        this.stack = stack;
        this.donor = donor;
        this.tokenizer = tokenizer;
        this.built = built;
        this.chatTemplate = chatTemplate;
        this.inputs = inputs;
        this.requested = requested;
    }

    /**
     * Scans the donor's folder (and the tokenizer source's), checks config.json, the tokenizer
     * source and the chat template; adds what the user should hear to {@code warnings}.
     *
     * @throws UgmException when a file is invalid or the tokenizer source needs what ugm does not do yet
     */
    static OutputFiles of(MergeConfig config, List<String> warnings) {
        Path donorDir = donorFolder(config);
        Map<Path, ModelFiles> scans = new LinkedHashMap<>();
        ModelFiles donor = Files.isDirectory(donorDir) ? scan(donorDir, scans) : null;
        if (donor != null) {
            warnings.addAll(donor.warnings());
        }
        TokenizerSource source = config.effectiveTokenizerSource();
        String key = config.tokenizerSource() != null ? "tokenizer_source" : "tokenizer.source";
        List<Path> inputs = new ArrayList<>();
        ModelFiles tokenizer = donor;
        if (source != null && source.kind() == TokenizerSource.Kind.MODEL) {
            if (!Files.isDirectory(source.model().path())) {
                throw new ConfigException(key + ": " + source.model().path() + " is not a model folder");
            }
            tokenizer = scan(source.model().path(), scans);
            inputs.add(source.model().path());
        }
        Embeddings embeddings = null;
        if (source != null) {
            embeddings = embeddings(config, key, source, tokenizer, scans, warnings);
        }
        String template = config.chatTemplate() == null ? null : config.chatTemplate().equals(ChatTemplates.AUTO)
                ? mostCommonTemplate(config, scans) : ChatTemplates.text(config.chatTemplate());
        if (template != null && !hasTokenizer(tokenizer)) {
            warnings.add("chat_template is not written: " + (tokenizer == null ? donorDir : tokenizer.folder())
                    + " has no tokenizer to put it in");
            template = null;
        }
        return new OutputFiles(donor, tokenizer, source != null, template, List.copyOf(inputs), config.chatTemplate(),
                config.slices().isEmpty() ? null : new SliceStack(config.slices()), embeddings);
    }

    /**
     * What a tokenizer source does to the embeddings: the inputs' model paths (the models, then the
     * base) in the order of {@code plan}'s inputs, and the output vocabulary.
     */
    record Embeddings(List<Path> inputs, TokenizerMerge.Plan plan, TokenizerMerge.Output output) {
        /** The index of the input at {@code path} in the plan. */
        int index(Path path) {
            return inputs.indexOf(path);
        }
    }

    /** The embeddings and vocabulary a tokenizer source gives, else null. */
    Embeddings embeddings() {
        return embeddings;
    }

    /** The folders read besides the checkpoints (a tokenizer source that is not merged): the output must lie apart. */
    List<Path> inputs() {
        return inputs;
    }

    /** What the user should hear about {@code copyTokenizer} (a chat template it leaves unwritten). */
    List<String> warnings(boolean copyTokenizer) {
        if (!copyTokenizer && !built && requested != null) {
            return List.of("chat_template is not written: the tokenizer is not copied");
        }
        return List.of();
    }

    /**
     * Writes the files into {@code folder}. Without {@code copyTokenizer} no tokenizer file is written,
     * unless a tokenizer source is given: mergekit writes the tokenizer it built whatever that option says.
     */
    void writeTo(OutputFolder folder, DType outDtype, boolean copyTokenizer) {
        if (donor != null) {
            folder.copyModelFiles(donor.only(n -> !ModelFiles.isTokenizerFile(n)), outDtype);
            if ((stack != null || embeddings != null) && donor.has(CONFIG_JSON)) {
                adjustConfig(folder);
            }
        }
        if (!(copyTokenizer || built) || !hasTokenizer(tokenizer)) {
            return;
        }
        Map<String, ObjectNode> rewritten = new LinkedHashMap<>();
        if (chatTemplate != null && tokenizer.has(TOKENIZER_CONFIG)) {
            ObjectNode cfg = object(tokenizer, TOKENIZER_CONFIG);
            cfg.remove("chat_template");
            rewritten.put(TOKENIZER_CONFIG, cfg);
        }
        if (embeddings != null && !embeddings.output().unchanged()) {
            for (String name : List.of(TOKENIZER_JSON, TOKENIZER_CONFIG, ADDED_TOKENS)) {
                if (tokenizer.has(name)) {
                    rewritten.computeIfAbsent(name, n -> object(tokenizer, n));
                    retoken(name, rewritten.get(name), embeddings.output());
                }
            }
        }
        folder.copyModelFiles(tokenizer.only(n -> ModelFiles.isTokenizerFile(n) && !rewritten.containsKey(n)
                && !(chatTemplate != null && n.startsWith("chat_template."))), null);
        rewritten.forEach((name, json) -> folder.writeFile(name, (Trees.write(JSON, json, true) + "\n").getBytes(StandardCharsets.UTF_8)));
        if (chatTemplate != null) {
            folder.writeFile("chat_template.jinja", chatTemplate.getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * The tokenizer file {@code name} with the added tokens of {@code output} in it and the dropped ones out, as
     * transformers saves them: tokenizer.json's {@code added_tokens}, tokenizer_config.json's
     * {@code added_tokens_decoder}, added_tokens.json's token-to-id map.
     */
    private static void retoken(String name, ObjectNode json, TokenizerMerge.Output output) {
        Set<Integer> dropped = new java.util.HashSet<>();
        output.dropped().forEach(a -> dropped.add(a.id()));
        switch (name) {
            case TOKENIZER_JSON -> {
                com.fasterxml.jackson.databind.node.ArrayNode list = JsonNodeFactory.instance.arrayNode();
                json.path("added_tokens").forEach(t -> {
                    if (!dropped.contains(t.path("id").asInt(-1))) {
                        list.add(t);
                    }
                });
                for (Vocabulary.Added a : output.addedTokens()) {
                    list.addObject().put("id", a.id()).put("content", a.content()).put("single_word", a.singleWord())
                            .put("lstrip", a.lstrip()).put("rstrip", a.rstrip()).put("normalized", a.normalized())
                            .put("special", a.special());
                }
                json.set("added_tokens", list);
            }
            case TOKENIZER_CONFIG -> {
                ObjectNode decoder = json.path("added_tokens_decoder") instanceof ObjectNode o ? o : json.putObject("added_tokens_decoder");
                dropped.forEach(id -> decoder.remove(Integer.toString(id)));
                for (Vocabulary.Added a : output.addedTokens()) {
                    decoder.putObject(Integer.toString(a.id())).put("content", a.content()).put("lstrip", a.lstrip())
                            .put("normalized", a.normalized()).put("rstrip", a.rstrip()).put("single_word", a.singleWord())
                            .put("special", a.special());
                }
            }
            default -> {
                output.dropped().forEach(a -> json.remove(a.content()));
                output.addedTokens().forEach(a -> json.put(a.content(), a.id()));
            }
        }
    }

    private static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    private static final String TOKENIZER_JSON = "tokenizer.json";
    private static final String ADDED_TOKENS = "added_tokens.json";

    /** mergekit's donor of the other files: the base, or with no base the first model. */
    private static Path donorFolder(MergeConfig config) {
        return (config.base() != null ? config.base() : config.models().get(0).model()).folder();
    }

    /** The folders of the base and the models, the base first. */
    private static Set<Path> modelFolders(MergeConfig config) {
        Set<Path> folders = new LinkedHashSet<>();
        if (config.base() != null) {
            folders.add(config.base().folder());
        }
        config.models().forEach(m -> folders.add(m.model().folder()));
        return folders;
    }

    private static ModelFiles scan(Path dir, Map<Path, ModelFiles> scans) {
        return scans.computeIfAbsent(dir, ModelFiles::scan);
    }

    private static boolean hasTokenizer(ModelFiles files) {
        return files != null && files.names().stream().anyMatch(ModelFiles::isTokenizerFile);
    }

    /**
     * mergekit's tokenizer merge for {@code config}: each input's vocabulary (its own tokenizer's,
     * or the base's, or with no base the first model's, when it has none, as mergekit assumes),
     * bounded by its config.json's vocab_size; the output vocabulary the source gives; each input's rows.
     */
    private static Embeddings embeddings(MergeConfig config, String key, TokenizerSource source, ModelFiles chosen,
                                         Map<Path, ModelFiles> scans, List<String> warnings) {
        Map<Path, ModelRef> distinct = new LinkedHashMap<>();
        config.models().forEach(m -> distinct.putIfAbsent(m.model().path(), m.model()));
        if (config.base() != null) {
            distinct.putIfAbsent(config.base().path(), config.base());
        }
        ModelRef baseRef = config.base() != null ? config.base() : config.models().get(0).model();
        TokenizerMerge.Tokens base = tokens(baseRef, null, scans);
        if (base == null) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, key + ": " + source + ": " + baseRef.folder()
                    + " has no tokenizer files (tokenizer.json, vocab.json or vocab.txt)");
        }
        List<Path> paths = new ArrayList<>(distinct.keySet());
        List<TokenizerMerge.Tokens> inputs = new ArrayList<>();
        List<TokenizerMerge.Tokens> others = new ArrayList<>();
        for (ModelRef r : distinct.values()) {
            TokenizerMerge.Tokens own = r.path().equals(baseRef.path()) ? base : tokens(r, null, scans);
            if (own != null && own != base) {
                others.add(own);
            }
            inputs.add(own != null ? own : tokens(r, base, scans));
        }
        TokenizerMerge.Tokens chosenTokens = null;
        if (source.kind() == TokenizerSource.Kind.MODEL) {
            chosenTokens = tokens(source.model(), null, scans);
            if (chosenTokens == null) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, key + ": " + chosen.folder()
                        + " has no tokenizer files (tokenizer.json, vocab.json or vocab.txt)");
            }
        }
        MergeConfig.Tokenizer block = config.tokenizer();
        Map<String, MergeConfig.TokenEmbedding> entries = block == null ? Map.of() : block.tokens();
        TokenizerMerge.Output output = TokenizerMerge.build(TokenizerMerge.Source.valueOf(source.kind().name()), base, others,
                chosenTokens, List.copyOf(entries.keySet()), warnings::add);
        Map<String, TokenizerMerge.Rule> rules = new LinkedHashMap<>();
        entries.forEach((token, e) -> rules.put(token, rule(token, e, paths)));
        int baseIndex = config.base() == null ? -1 : paths.indexOf(config.base().path());
        TokenizerMerge.Plan plan = TokenizerMerge.plan(output.vocab(), inputs, baseIndex, rules,
                block == null ? null : block.padToMultipleOf(), warnings::add);
        ModelFiles out = source.kind() == TokenizerSource.Kind.MODEL ? chosen : scan(baseRef.folder(), scans);
        if (!output.unchanged() && !out.has(TOKENIZER_JSON)) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, key + ": the output tokenizer adds or drops tokens, and ugm"
                    + " writes those only into a tokenizer.json (a fast tokenizer); " + out.folder() + " has none");
        }
        return new Embeddings(List.copyOf(paths), plan, output);
    }

    /** The entry {@code tokenizer.tokens.<token>} as a rule on the inputs {@code paths}. */
    private static TokenizerMerge.Rule rule(String token, MergeConfig.TokenEmbedding e, List<Path> paths) {
        if (e.kind() == MergeConfig.TokenEmbedding.Kind.ZERO) {
            return new TokenizerMerge.Rule.Zero(e.force());
        }
        int input = paths.indexOf(e.model().path());
        if (input < 0) {
            throw new ConfigException("tokenizer.tokens." + token + ".source" + (e.kind() == MergeConfig.TokenEmbedding.Kind.MODEL
                    ? "" : ".model") + ": " + e.model() + " is not one of the merged models (nor the base)");
        }
        return e.kind() == MergeConfig.TokenEmbedding.Kind.MODEL ? new TokenizerMerge.Rule.FromInput(input, e.force())
                : new TokenizerMerge.Rule.InputToken(input, e.token(), e.tokenId(), e.force());
    }

    /**
     * The vocabulary of the model {@code ref}: its tokenizer's, or {@code fallback}'s when given,
     * bounded by its config.json's vocab_size (else the vocabulary's size); null when it has no
     * tokenizer and no fallback is given.
     */
    private static TokenizerMerge.Tokens tokens(ModelRef ref, TokenizerMerge.Tokens fallback, Map<Path, ModelFiles> scans) {
        Path dir = ref.folder();
        ModelFiles files = Files.isDirectory(dir) ? scan(dir, scans) : null;
        Map<String, Integer> vocab = files == null || fallback != null ? null : Vocabulary.read(files);
        if (vocab == null && fallback == null) {
            return null;
        }
        ModelConfig cfg = files == null ? null : ModelConfig.read(dir);
        Map<String, Integer> v = vocab != null ? vocab : fallback.vocab();
        List<Vocabulary.Added> added = vocab != null ? Vocabulary.addedTokens(files) : fallback.added();
        int size = cfg != null && cfg.vocabSize() != null ? cfg.vocabSize() : v.size();
        return new TokenizerMerge.Tokens(dir.toString(), v, added, size);
    }

    /**
     * {@code auto}: the template most of the models' tokenizers have (stripped, as mergekit compares
     * them), the base's first and then the models' in order breaking ties; null when none has one.
     */
    private static String mostCommonTemplate(MergeConfig config, Map<Path, ModelFiles> scans) {
        Set<Path> models = modelFolders(config);
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Path m : models) {
            if (Files.isDirectory(m)) {
                String t = templateOf(scan(m, scans));
                if (t != null && !t.isBlank()) {
                    counts.merge(t.strip(), 1, Integer::sum);
                }
            }
        }
        String best = null;
        for (Map.Entry<String, Integer> e : counts.entrySet()) {
            if (best == null || e.getValue() > counts.get(best)) {
                best = e.getKey();
            }
        }
        return best;
    }

    /**
     * A tokenizer's chat template as transformers loads it: {@code chat_template.jinja}, else
     * {@code tokenizer_config.json}'s {@code chat_template} (text, or a list of named templates of
     * which mergekit takes {@code default}); null when none.
     */
    private static String templateOf(ModelFiles files) {
        if (files.has("chat_template.jinja")) {
            try (InputStream in = files.open("chat_template.jinja")) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UgmException(UgmException.Kind.IO, "cannot read " + files.folder().resolve("chat_template.jinja")
                        + ": " + e.getMessage(), e);
            }
        }
        if (!files.has(TOKENIZER_CONFIG)) {
            return null;
        }
        JsonNode t = object(files, TOKENIZER_CONFIG).get("chat_template");
        if (t != null && t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText(null))) {
                    t = named.get("template");
                    break;
                }
            }
        }
        return t != null && t.isTextual() ? t.asText() : null;
    }

    private static final String CONFIG_JSON = "config.json";

    /** The keys that give a model's layer count in config.json, as the architectures name it. */
    static final List<String> LAYER_COUNT_KEYS = List.of("num_hidden_layers", "n_layer", "num_layers", "n_layers");

    /**
     * config.json as written, for a {@code slices:} merge with the layer count set to the output's (the first of
     * {@link #LAYER_COUNT_KEYS} it has, else {@code num_hidden_layers}, as mergekit sets its
     * architecture's key) and every top-level list of one entry per layer (a key naming
     * {@code layer}, e.g. {@code layer_types}) resliced to follow the output's layers; with a tokenizer
     * source, with {@code vocab_size} (top-level, or text_config's where only that one is given) the
     * rows of the output's embeddings.
     */
    private void adjustConfig(OutputFolder folder) {
        Path written = folder.temp().resolve(CONFIG_JSON);
        ObjectNode cfg;
        try (JsonParser p = JSON.createParser(written.toFile())) {
            cfg = (ObjectNode) Trees.read(p);
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot read " + written + ": " + e.getMessage(), e);
        }
        if (embeddings != null) {
            ObjectNode text = cfg.path("text_config") instanceof ObjectNode o && o.has("vocab_size") && !cfg.has("vocab_size") ? o : cfg;
            if (stack == null && text.path("vocab_size").asInt(-1) == embeddings.plan().rows()) {
                return; // as copied
            }
            text.put("vocab_size", embeddings.plan().rows());
        }
        if (stack != null) {
            restack(cfg);
        }
        folder.writeFile(CONFIG_JSON, (Trees.write(JSON, cfg, true) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private void restack(ObjectNode cfg) {
        String key = LAYER_COUNT_KEYS.stream().filter(k -> cfg.path(k).isIntegralNumber()).findFirst().orElse(LAYER_COUNT_KEYS.get(0));
        int before = cfg.path(key).asInt(-1);
        cfg.put(key, stack.layers());
        int[] from = stack.firstSourceLayers();
        for (String k : cfg.properties().stream().map(Map.Entry::getKey).toList()) {
            JsonNode list = cfg.get(k);
            if (k.contains("layer") && list.isArray() && list.size() == before && before > 1) {
                com.fasterxml.jackson.databind.node.ArrayNode out = cfg.putArray(k);
                for (int l : from) {
                    out.add(l < list.size() ? list.get(l) : list.get(list.size() - 1));
                }
            }
        }
    }

    /** The small JSON file {@code name} of {@code files} (a config), as one object. */
    private static ObjectNode object(ModelFiles files, String name) {
        Path file = files.folder().resolve(name);
        try (JsonParser p = files.parser(name)) {
            JsonNode n = Trees.read(p);
            if (!(n instanceof ObjectNode o)) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, file + ": not a JSON object");
            }
            return o;
        } catch (JsonProcessingException e) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
