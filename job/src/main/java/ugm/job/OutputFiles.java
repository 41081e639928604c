package ugm.job;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.DType;
import ugm.core.UgmException;
import ugm.io.ModelFiles;
import ugm.io.OutputFolder;
import ugm.io.Vocabulary;
import ugm.job.config.ChatTemplates;
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
 *       model. With a tokenizer source, mergekit rebuilds the embeddings for the chosen tokenizer;
 *       ugm copies them only when that changes nothing: every model's vocabulary is the chosen
 *       tokenizer's, and it has exactly as many tokens as the embeddings have rows;</li>
 *   <li>{@code chat_template} replaces the tokenizer's template: written to
 *       {@code chat_template.jinja} and dropped from {@code tokenizer_config.json}, as
 *       transformers saves a tokenizer.</li>
 * </ul>
 */
final class OutputFiles {
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build())
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final ModelFiles donor;
    private final ModelFiles tokenizer;
    private final boolean built;
    private final String chatTemplate;
    private final List<Path> inputs;
    /** chat_template as the config gives it (null: none), though {@link #chatTemplate} may be null. */
    private final String requested;
    /** The output's layers for a {@code slices:} merge (config.json's layer count follows them), else null. */
    private final SliceStack stack;

    private OutputFiles(ModelFiles donor, ModelFiles tokenizer, boolean built, String chatTemplate, List<Path> inputs,
                        String requested, SliceStack stack) {
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
        if (source != null) {
            checkVocabularies(config, key, source, donor, tokenizer, scans);
        }
        String template = config.chatTemplate() == null ? null : config.chatTemplate().equals(ChatTemplates.AUTO)
                ? mostCommonTemplate(config, scans) : ChatTemplates.text(config.chatTemplate());
        if (template != null && !hasTokenizer(tokenizer)) {
            warnings.add("chat_template is not written: " + (tokenizer == null ? donorDir : tokenizer.folder())
                    + " has no tokenizer to put it in");
            template = null;
        }
        return new OutputFiles(donor, tokenizer, source != null, template, List.copyOf(inputs), config.chatTemplate(),
                config.slices().isEmpty() ? null : new SliceStack(config.slices()));
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
            if (stack != null && donor.has(CONFIG_JSON)) {
                restack(folder);
            }
        }
        if (!(copyTokenizer || built) || !hasTokenizer(tokenizer)) {
            return;
        }
        if (chatTemplate == null) {
            folder.copyModelFiles(tokenizer.only(ModelFiles::isTokenizerFile), null);
            return;
        }
        folder.copyModelFiles(tokenizer.only(n -> ModelFiles.isTokenizerFile(n) && !n.equals(TOKENIZER_CONFIG)
                && !n.startsWith("chat_template.")), null);
        if (tokenizer.has(TOKENIZER_CONFIG)) {
            ObjectNode cfg = object(tokenizer, TOKENIZER_CONFIG);
            cfg.remove("chat_template");
            try {
                folder.writeFile(TOKENIZER_CONFIG, (JSON.writeValueAsString(cfg) + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
        folder.writeFile("chat_template.jinja", chatTemplate.getBytes(StandardCharsets.UTF_8));
    }

    private static final String TOKENIZER_CONFIG = "tokenizer_config.json";

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
     * The merge is mergekit's only when its embedding rebuild changes nothing: the chosen tokenizer
     * has one token per row of the embeddings (ids 0 to vocab_size - 1: none stripped, none padded)
     * and every model's vocabulary (its tokenizer's, or the donor's when it has none, as mergekit
     * assumes) maps those tokens to the same ids. Then union is the base's tokenizer too.
     */
    private static void checkVocabularies(MergeConfig config, String key, TokenizerSource source, ModelFiles donor,
                                          ModelFiles tokenizer, Map<Path, ModelFiles> scans) {
        Path donorDir = donorFolder(config);
        Map<String, Integer> chosen = tokenizer == null ? null : Vocabulary.read(tokenizer);
        Path chosenDir = tokenizer == null ? donorDir : tokenizer.folder();
        if (chosen == null) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, key + ": " + (source.kind() == TokenizerSource.Kind.MODEL
                    ? "" : source + ": ") + chosenDir + " has no tokenizer files");
        }
        Integer rows = donor == null ? null : vocabSize(donor);
        if (rows == null) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, key + ": " + donorDir.resolve(CONFIG_JSON)
                    + " gives no vocab_size, needed to check the tokenizer against the embeddings");
        }
        BitSet ids = new BitSet();
        chosen.values().forEach(id -> ids.set(Math.max(0, Math.min(id, rows))));
        if (chosen.size() != rows || ids.cardinality() != rows || ids.get(rows)) {
            throw new ConfigException(key + ": the tokenizer of " + chosenDir + " has " + chosen.size() + " tokens (ids up to "
                    + chosen.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + ") but the embeddings have "
                    + rows + " rows (vocab_size in " + donorDir.resolve(CONFIG_JSON)
                    + "); resizing the embeddings to a tokenizer is not supported yet");
        }
        Integer pad = config.tokenizer() == null ? null : config.tokenizer().padToMultipleOf();
        if (pad != null && rows % pad != 0) {
            throw new ConfigException("tokenizer.pad_to_multiple_of: " + pad + " would pad the " + rows
                    + " embedding rows; resizing the embeddings is not supported yet");
        }
        Map<String, Integer> fallback = donor == tokenizer ? chosen : Vocabulary.read(donor); // rows != null: donor is read
        Set<Path> models = modelFolders(config);
        for (Path m : models) {
            Map<String, Integer> vocab = m.equals(chosenDir) ? chosen
                    : Files.isDirectory(m) ? Vocabulary.read(scan(m, scans)) : null;
            if (vocab == null) {
                vocab = fallback != null ? fallback : chosen;
            }
            String difference = difference(chosen, chosenDir, vocab, m, rows);
            if (difference != null) {
                throw new ConfigException(key + ": " + source + (source.kind() == TokenizerSource.Kind.UNION
                        ? " is not supported yet when the vocabularies differ (" + difference + ")"
                        : ": the vocabularies differ (" + difference + "); merging models with different vocabularies"
                        + " (reordering embeddings) is not supported yet"));
            }
        }
    }

    /** One token that {@code a} and {@code b} (ids below {@code rows}) map differently, described; null when none. */
    private static String difference(Map<String, Integer> a, Path aDir, Map<String, Integer> b, Path bDir, int rows) {
        for (Map.Entry<String, Integer> e : a.entrySet()) {
            Integer other = b.get(e.getKey());
            if (other == null || other >= rows) {
                return "token '" + e.getKey() + "' of " + aDir + " is not in " + bDir + "'s vocabulary";
            }
            if (!other.equals(e.getValue())) {
                return "token '" + e.getKey() + "' is id " + e.getValue() + " in " + aDir + ", " + other + " in " + bDir;
            }
        }
        for (Map.Entry<String, Integer> e : b.entrySet()) {
            if (e.getValue() < rows && !a.containsKey(e.getKey())) {
                return "token '" + e.getKey() + "' of " + bDir + " is not in " + aDir + "'s vocabulary";
            }
        }
        return null;
    }

    /** config.json's vocab_size (or text_config's, as multimodal configs have it); null when absent. */
    private static Integer vocabSize(ModelFiles files) {
        if (!files.has(CONFIG_JSON)) {
            return null;
        }
        JsonNode cfg = object(files, CONFIG_JSON);
        JsonNode v = cfg.get("vocab_size");
        if ((v == null || !v.isIntegralNumber()) && cfg.get("text_config") != null) {
            v = cfg.get("text_config").get("vocab_size");
        }
        return v != null && v.isIntegralNumber() && v.canConvertToInt() ? v.intValue() : null;
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
     * config.json as written, with the layer count set to the output's (the first of
     * {@link #LAYER_COUNT_KEYS} it has, else {@code num_hidden_layers}, as mergekit sets its
     * architecture's key) and every top-level list of one entry per layer (a key naming
     * {@code layer}, e.g. {@code layer_types}) resliced to follow the output's layers.
     */
    private void restack(OutputFolder folder) {
        Path written = folder.temp().resolve(CONFIG_JSON);
        ObjectNode cfg;
        try {
            cfg = (ObjectNode) JSON.readTree(written.toFile());
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot read " + written + ": " + e.getMessage(), e);
        }
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
        try {
            folder.writeFile(CONFIG_JSON, (JSON.writeValueAsString(cfg) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The small JSON file {@code name} of {@code files} (a config), as one object. */
    private static ObjectNode object(ModelFiles files, String name) {
        Path file = files.folder().resolve(name);
        try (JsonParser p = files.parser(name)) {
            JsonNode n = JSON.readTree(p);
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
