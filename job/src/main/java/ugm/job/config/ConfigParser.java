package ugm.job.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.AbstractConstruct;
import org.yaml.snakeyaml.constructor.Construct;
import org.yaml.snakeyaml.constructor.DuplicateKeyException;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.representer.Representer;
import ugm.core.DType;
import ugm.core.UgmException;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;
import ugm.io.HubCache;

/**
 * Reads a mergekit-style YAML config; every mistake is one line naming the file and the key.
 *
 * <p>Stateless: safe to call from any thread.
 */
public final class ConfigParser {

    static final Set<String> TOP_KEYS = Set.of("merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype",
            "tokenizer_source", "tokenizer", "chat_template", "base_fisher");
    static final Set<String> SLICE_KEYS = Set.of("sources", "base_model", "parameters", "residual_weight");
    static final Set<String> SOURCE_KEYS = Set.of("model", "layer_range", "parameters");
    static final Set<String> TOKENIZER_KEYS = Set.of("source", "tokens", "pad_to_multiple_of");
    static final Set<String> MODEL_KEYS = Set.of("model", "parameters", "fisher");
    /** mergekit keys for features ugm does not have yet. */
    static final Set<String> MERGEKIT_TOP_ONLY = Set.of("modules");

    /** Older mergekit's parameter (also written at the top level), ignored since mergekit 0.0.5. */
    static final String EMBED_SLERP = "embed_slerp";
    /** The keys a misspelt key is compared with: one near these is an error, any other key a warning (mergekit ignores it). */
    private static final Set<String> KNOWN_TOP_KEYS = union(TOP_KEYS, MERGEKIT_TOP_ONLY);

    private final Path dir;
    private final List<String> warnings = new ArrayList<>();
    private final HubCache cache;
    /** The models the slices read, by where they resolved, in order of appearance. */
    private final Map<Path, ModelRef> sliceModels = new LinkedHashMap<>();

    private ConfigParser(Path file, HubCache cache) {
        this.dir = file.toAbsolutePath().normalize().getParent();
        this.cache = cache;
    }

    /**
     * The largest config ugm reads, in bytes. Real configs are a few kilobytes. The YAML reader's
     * time and memory grow with the square of a line's length: a 3.2 MB comment took it 27 s and
     * 2.1 GB; one line of 1 MiB still takes seconds and most of a gigabyte, one of 256 KiB a
     * fraction of a second and no more memory than a small config.
     */
    public static final int MAX_BYTES = 256 << 10;

    /**
     * The YAML reader, YAML 1.1 as mergekit's (PyYAML's safe loader): anchors, aliases and merge
     * keys ({@code <<: *params}, {@code <<: [*a, *b]}: the mapping's own keys override merged ones,
     * earlier merged mappings override later ones), {@code yes}/{@code no} as booleans. A key
     * twice in one mapping is an error (mergekit's reader keeps the last silently, but a second
     * {@code weight:} is a mistake far more often than an intent). Floats are kept as the decimals
     * written (their double is the same as parsing them directly), so a whole number written as a
     * float ({@code 42.0}) is read exactly. At most 50 aliases of mappings and lists (SnakeYAML's
     * default) and {@link #MAX_VALUES} values once aliases are expanded: a config that expands
     * like a "billion laughs" is refused at once.
     */
    private static Yaml yaml() {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        return new Yaml(new Reader(options), new Representer(new DumperOptions()), new DumperOptions(), options);
    }

    /**
     * The most values (scalars, mappings, lists) a config may hold once its aliases are expanded;
     * a real config holds a few hundred. Expanding this many takes milliseconds.
     */
    static final int MAX_VALUES = 1 << 16;

    /** SafeConstructor with floats as exact decimals and timestamps as the text written. */
    private static final class Reader extends SafeConstructor {
        Reader(LoaderOptions options) {
            super(options);
            Construct standardFloat = yamlConstructors.get(Tag.FLOAT);
            yamlConstructors.put(Tag.FLOAT, new AbstractConstruct() {
                @Override
                public Object construct(Node node) {
                    String text = constructScalar((ScalarNode) node);
                    String digits = text.replace("_", "");
                    if (NON_FINITE.matcher(digits).matches()) {
                        return new NonFinite(text);
                    }
                    if (digits.contains(":")) { // YAML 1.1's base 60 (1:30.5): rare enough to go through a double
                        return new BigDecimal(standardFloat.construct(node).toString());
                    }
                    return new BigDecimal(digits);
                }
            });
            yamlConstructors.put(Tag.TIMESTAMP, new AbstractConstruct() {
                @Override
                public Object construct(Node node) {
                    return constructScalar((ScalarNode) node);
                }
            });
        }
    }

    /** YAML's non-finite floats (.nan, .inf, -.inf in their spellings), refused where they are read. */
    private record NonFinite(String text) {
    }

    private static final Pattern NON_FINITE = Pattern.compile("[-+]?\\.(?:inf|Inf|INF|nan|NaN|NAN)");

    /** Reads {@code file} with the Hugging Face cache of the environment: {@link #read(Path, HubCache)}. */
    public static MergeConfig read(Path file) {
        return read(file, HubCache.fromEnvironment());
    }

    /**
     * Reads {@code file}; its model references are resolved as {@link ModelRef} says (relative
     * paths against the working directory, model ids in {@code cache}).
     */
    public static MergeConfig read(Path file, HubCache cache) {
        ConfigParser p = new ConfigParser(file, cache);
        JsonNode root = parse(file, text(file));
        try {
            return p.config(root);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    /** What {@link #methodOf} reads: the method, and whether the global parameters subtract the tasks ({@code remove: true}). */
    public record NamedMethod(Method method, boolean removes) {
    }

    /**
     * The method a config file names ({@code merge_method}) and its global {@code remove}, read
     * alone, without resolving or checking anything else: null where {@code file} is no config ugm
     * reads or names no method it runs. For what must know the method before the config is read
     * (the kernel warm-up, on its own thread); {@link #read} says what is wrong with a file.
     */
    public static NamedMethod methodOf(Path file) {
        try {
            JsonNode root = parse(file, text(file));
            JsonNode name = root.get("merge_method");
            Method m = name != null && name.isTextual() ? Method.byId(name.textValue().toLowerCase(Locale.ROOT)) : null;
            JsonNode remove = root.path("parameters").path("remove");
            return m == null ? null : new NamedMethod(m, remove.isBoolean() && remove.booleanValue());
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The file's text, read up to {@link #MAX_BYTES}: its size is checked first, and the reading stops there too. */
    private static String text(Path file) {
        if (Files.isDirectory(file)) {
            throw new ConfigException(file + " is a folder, not a config file");
        }
        byte[] bytes;
        try {
            if (Files.isRegularFile(file) && Files.size(file) > MAX_BYTES) {
                throw tooLarge(file);
            }
            try (InputStream in = Files.newInputStream(file)) { // also a pipe or a device, which may never end
                bytes = in.readNBytes(MAX_BYTES + 1);
            }
        } catch (NoSuchFileException e) {
            throw new UgmException(UgmException.Kind.USAGE, "config file not found: " + file);
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot read config " + file + ": " + e.getMessage(), e);
        }
        if (bytes.length > MAX_BYTES) {
            throw tooLarge(file);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ConfigException(file + " is not UTF-8 text");
        }
    }

    private static ConfigException tooLarge(Path file) {
        return new ConfigException(file + " is larger than " + (MAX_BYTES >> 10) + " KiB, the most a config may be");
    }

    /** The one YAML document of {@code text}, as a tree (aliases and merge keys resolved). */
    private static JsonNode parse(Path file, String text) {
        Object root = null;
        int documents = 0;
        try {
            for (Object document : yaml().loadAll(text)) { // an empty document counts too
                root = documents == 0 ? document : root;
                documents++;
            }
        } catch (DuplicateKeyException e) {
            Matcher duplicate = DUPLICATE.matcher(e.getProblem());
            throw new ConfigException(file + ": duplicate key '" + (duplicate.matches() ? duplicate.group(1) : "?") + "'"
                    + line(e));
        } catch (MarkedYAMLException e) {
            throw new ConfigException(file + ": not valid YAML" + line(e) + ": " + e.getProblem());
        } catch (YAMLException e) {
            Matcher aliases = ALIASES.matcher(String.valueOf(e.getMessage()));
            throw new ConfigException(file + (aliases.matches() ? ": uses more than " + aliases.group(1)
                    + " aliases of mappings or lists, the most ugm expands" : ": not valid YAML: " + e.getMessage()));
        }
        if (documents > 1) {
            throw new ConfigException(file + " has " + documents + " YAML documents; ugm reads one");
        }
        try {
            return new Tree().node(root, "");
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    private static String line(MarkedYAMLException e) {
        return e.getProblemMark() == null ? "" : " at line " + (e.getProblemMark().getLine() + 1);
    }

    /** SnakeYAML's words for a key given twice in one mapping. */
    private static final Pattern DUPLICATE = Pattern.compile("found duplicate key (.*)", Pattern.DOTALL);
    /** SnakeYAML's words for too many aliases. */
    private static final Pattern ALIASES = Pattern.compile(".*aliases for non-scalar nodes exceeds the specified max=(\\d+).*",
            Pattern.DOTALL);

    /** The loaded document as the JsonNode tree the rest of the parser reads, each alias expanded, within {@link #MAX_VALUES}. */
    private static final class Tree {
        private final JsonNodeFactory nodes = JsonNodeFactory.instance;
        private final Set<Object> open = Collections.newSetFromMap(new IdentityHashMap<>());
        private int values;

        /** {@code value} at {@code path} (as errors name it: {@code models[0].parameters.weight[1]}). */
        JsonNode node(Object value, String path) {
            if (++values > MAX_VALUES) {
                throw new ConfigException("holds more than " + MAX_VALUES + " values, its aliases expanded; a config holds a few hundred");
            }
            return switch (value) {
                case null -> nodes.nullNode();
                case String s -> nodes.textNode(s);
                case Boolean b -> nodes.booleanNode(b);
                case Integer i -> nodes.numberNode(i);
                case Long l -> nodes.numberNode(l);
                case BigInteger b -> nodes.numberNode(b);
                case BigDecimal d -> nodes.numberNode(d);
                case byte[] bytes -> nodes.binaryNode(bytes);
                case NonFinite n -> throw new ConfigException(path + (path.contains("parameters")
                        ? " must be a finite number, not " : " cannot be ") + n.text());
                case Map<?, ?> map -> container(map, path, () -> {
                    ObjectNode o = nodes.objectNode();
                    map.forEach((k, v) -> {
                        String key = String.valueOf(k);
                        o.set(key, node(v, path.isEmpty() ? key : path + "." + key));
                    });
                    return o;
                });
                case Collection<?> list -> container(list, path, () -> {
                    ArrayNode a = nodes.arrayNode();
                    list.forEach(e -> a.add(node(e, path + "[" + a.size() + "]")));
                    return a;
                });
                case Object[] pairs -> node(Arrays.asList(pairs), path);
                default -> nodes.textNode(value.toString());
            };
        }

        /** An alias may stand for a mapping or list that holds it: refused rather than expanded forever. */
        private JsonNode container(Object c, String path, Supplier<JsonNode> build) {
            if (!open.add(c)) {
                throw new ConfigException((path.isEmpty() ? "the document" : path) + " holds itself through an alias");
            }
            JsonNode n = build.get();
            open.remove(c);
            return n;
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> s = new TreeSet<>(a);
        s.addAll(b);
        return Set.copyOf(s);
    }

    /** The method named {@code name}, or a usage error saying what is and is not supported. */
    public static Method method(String name) {
        Method m = Method.byId(name.toLowerCase(Locale.ROOT));
        if (m != null) {
            return m;
        }
        Set<String> all = new TreeSet<>();
        for (Method k : Method.values()) {
            all.add(k.id());
        }
        throw new ConfigException("unknown merge_method '" + name + "'" + Suggest.hint(name, all) + " (ugm runs " + Method.ids() + ")");
    }

    /** mergekit's dtype names (and ugm's short ones) to a dtype; null stays null. */
    public static DType dtype(String name, String key) {
        if (name == null) {
            return null;
        }
        DType d = DType.floating(name);
        if (d == null) {
            throw new ConfigException(key + " '" + name + "' is not a dtype ugm writes: use bfloat16, float16, float32 or float64");
        }
        return d;
    }

    private MergeConfig config(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new ConfigException("a config is a YAML mapping with merge_method, models, ...");
        }
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String k = e.getKey();
            if (TOP_KEYS.contains(k)) {
                continue;
            }
            if (MERGEKIT_TOP_ONLY.contains(k)) {
                throw new ConfigException("'" + k + "' is a mergekit feature ugm does not support yet");
            }
            if (k.equals(EMBED_SLERP)) {
                embedSlerp(e.getValue(), k);
                continue;
            }
            if (Param.allKeys().contains(k)) {
                throw new ConfigException("'" + k + "' is a parameter: put it under 'parameters'");
            }
            if (Suggest.nearest(k, KNOWN_TOP_KEYS) != null) { // a typo of a key, not a key of its own
                throw new ConfigException("unknown key '" + k + "'" + Suggest.hint(k, KNOWN_TOP_KEYS));
            }
            warnings.add("unknown key '" + k + "' ignored, as mergekit ignores it (the nearest known key is '"
                    + Suggest.closest(k, TOP_KEYS) + "')");
        }
        String methodName = text(root, "merge_method", true);
        Method method = method(methodName);
        List<MergeConfig.Model> models = new ArrayList<>();
        JsonNode list = root.get("models");
        List<MergeConfig.Slice> slices = slices(root.get("slices"));
        if (!slices.isEmpty()) {
            if (list != null && !list.isNull()) {
                throw new ConfigException("give either 'models' or 'slices', not both (as in mergekit)");
            }
            sliceModels.values().forEach(m -> models.add(new MergeConfig.Model(m, null, Map.of())));
        } else if (list == null || !list.isArray() || list.isEmpty()) {
            throw new ConfigException("'models' must be a list of {model: PATH, parameters: {...}} entries");
        }
        for (int i = 0; slices.isEmpty() && i < list.size(); i++) {
            models.add(model(list.get(i), "models[" + i + "]"));
        }
        MergeConfig.TokenizerSource tokenizerSource = tokenizerSource(root, "tokenizer_source");
        MergeConfig.Tokenizer tokenizer = tokenizer(root.get("tokenizer"));
        if (tokenizerSource != null && tokenizer != null) {
            throw new ConfigException("give either 'tokenizer_source' or 'tokenizer', not both (as in mergekit)");
        }
        String chatTemplate = text(root, "chat_template", false);
        if (chatTemplate != null) {
            ChatTemplates.check(chatTemplate);
        }
        String dtype = text(root, "dtype", false);
        String outDtype = text(root, "out_dtype", false);
        dtype(dtype, "dtype");
        dtype(outDtype, "out_dtype");
        Map<String, Setting> parameters = parameters(root.get("parameters"), "parameters", false);
        return new MergeConfig(method, ref(root, "base_model"), ref(root, "base_fisher"), models, parameters, dtype,
                outDtype, tokenizerSource, tokenizer, chatTemplate, warnings, slices);
    }

    /** mergekit's {@code slices:}, each source's layer_range checked; empty when absent. */
    private List<MergeConfig.Slice> slices(JsonNode node) {
        List<MergeConfig.Slice> slices = new ArrayList<>();
        if (node == null || node.isNull()) {
            return slices;
        }
        if (!node.isArray() || node.isEmpty()) {
            throw new ConfigException("'slices' must be a list of {sources: [{model: PATH, layer_range: [A, B]}, ...]} entries");
        }
        for (int i = 0; i < node.size(); i++) {
            String where = "slices[" + i + "]";
            JsonNode slice = node.get(i);
            keys(slice, where, SLICE_KEYS);
            if (slice.has("residual_weight")) {
                warnings.add(where + ".residual_weight ignored, as mergekit ignores it");
            }
            JsonNode sources = slice.get("sources");
            if (sources == null || !sources.isArray() || sources.isEmpty()) {
                throw new ConfigException(where + ".sources must be a list of {model: PATH, layer_range: [A, B]} entries");
            }
            List<MergeConfig.Source> list = new ArrayList<>();
            for (int j = 0; j < sources.size(); j++) {
                String at = where + ".sources[" + j + "]";
                JsonNode src = sources.get(j);
                keys(src, at, SOURCE_KEYS);
                ModelRef ref = ref(src, "model");
                Path model = ref == null ? null : ref.path();
                if (ref != null) {
                    sliceModels.putIfAbsent(model, ref);
                }
                if (model == null) {
                    throw new ConfigException(at + " has no 'model'");
                }
                JsonNode range = src.get("layer_range");
                if (range == null || !range.isArray() || range.size() != 2 || !range.get(0).canConvertToInt()
                        || !range.get(0).isIntegralNumber() || !range.get(1).canConvertToInt() || !range.get(1).isIntegralNumber()
                        || range.get(0).intValue() < 0 || range.get(0).intValue() >= range.get(1).intValue()) {
                    throw new ConfigException(at + ".layer_range must be [A, B], whole numbers with 0 <= A < B (layers A to B - 1), not "
                            + (range == null ? "missing" : range.toString()));
                }
                MergeConfig.Source s = new MergeConfig.Source(model, range.get(0).intValue(), range.get(1).intValue(),
                        parameters(src.get("parameters"), at + ".parameters", true));
                if (!list.isEmpty() && s.to() - s.from() != list.get(0).to() - list.get(0).from()) {
                    throw new ConfigException(at + ".layer_range " + range + " has " + (s.to() - s.from()) + " layers, "
                            + where + ".sources[0] " + (list.get(0).to() - list.get(0).from())
                            + "; the sources of a slice must have as many layers (as in mergekit)");
                }
                list.add(s);
            }
            slices.add(new MergeConfig.Slice(list, refPath(slice, "base_model"), parameters(slice.get("parameters"), where + ".parameters", false)));
        }
        return slices;
    }

    /** {@code node} is a mapping whose keys are all in {@code known}. */
    private static void keys(JsonNode node, String where, Set<String> known) {
        if (!node.isObject()) {
            throw new ConfigException(where + " must be a mapping, not " + Setting.describe(node));
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!known.contains(e.getKey())) {
                String hint = Param.allKeys().contains(e.getKey()) ? "; it is a parameter: put it under " + where + ".parameters"
                        : Suggest.hint(e.getKey(), known);
                throw new ConfigException("unknown key '" + e.getKey() + "' in " + where + hint);
            }
        }
    }

    /** {@code base}, {@code union}, or a model (a folder or a hub id, as {@link ModelRef} resolves it); null when absent. */
    private MergeConfig.TokenizerSource tokenizerSource(JsonNode node, String key) {
        String s = text(node, key, false);
        if (s == null) {
            return null;
        }
        return switch (s) {
            case "base" -> MergeConfig.TokenizerSource.BASE;
            case "union" -> MergeConfig.TokenizerSource.UNION;
            default -> new MergeConfig.TokenizerSource(MergeConfig.TokenizerSource.Kind.MODEL, ref(node, key));
        };
    }

    /** mergekit's {@code tokenizer:} block: {@code source} (default union), {@code tokens}, {@code pad_to_multiple_of}. */
    private MergeConfig.Tokenizer tokenizer(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw new ConfigException("'tokenizer' must be a mapping like {source: base}, not " + Setting.describe(node));
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!TOKENIZER_KEYS.contains(e.getKey())) {
                throw new ConfigException("unknown key '" + e.getKey() + "' in tokenizer" + Suggest.hint(e.getKey(), TOKENIZER_KEYS));
            }
        }
        Map<String, MergeConfig.TokenEmbedding> tokens = new java.util.LinkedHashMap<>();
        JsonNode listed = node.get("tokens");
        if (listed != null && !listed.isNull()) {
            if (!listed.isObject()) {
                throw new ConfigException("tokenizer.tokens must be a mapping of token to {source: ..., force: ...}, not "
                        + Setting.describe(listed));
            }
            for (Map.Entry<String, JsonNode> e : listed.properties()) {
                tokens.put(e.getKey(), tokenEmbedding(e.getValue(), "tokenizer.tokens." + e.getKey()));
            }
        }
        JsonNode given = node.get("source");
        if (given != null && !given.isNull() && !given.isTextual()) {
            throw new ConfigException("tokenizer.source must be base, union or a model folder, not " + Setting.describe(given));
        }
        MergeConfig.TokenizerSource source = tokenizerSource(node, "source");
        Integer pad = null;
        JsonNode p = node.get("pad_to_multiple_of");
        if (p != null && !p.isNull()) {
            if (!p.canConvertToInt() || !p.isIntegralNumber() || p.intValue() < 1) {
                throw new ConfigException("tokenizer.pad_to_multiple_of must be a whole number of at least 1, not " + p);
            }
            pad = p.intValue();
        }
        return new MergeConfig.Tokenizer(source == null ? MergeConfig.TokenizerSource.UNION : source, tokens, pad);
    }

    private static final Set<String> TOKEN_KEYS = Set.of("source", "force");
    private static final Set<String> TOKEN_SOURCE_KEYS = Set.of("kind", "model", "token", "token_id");

    /**
     * One entry of mergekit's {@code tokenizer.tokens}: {@code source} (a model; {@code {kind: zero}};
     * {@code {kind: model_token, model: M, token: T}} or {@code token_id: N}) and {@code force}.
     */
    private MergeConfig.TokenEmbedding tokenEmbedding(JsonNode node, String where) {
        if (!node.isObject()) {
            throw new ConfigException(where + " must be a mapping like {source: MODEL}, not " + Setting.describe(node));
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!TOKEN_KEYS.contains(e.getKey())) {
                throw new ConfigException("unknown key '" + e.getKey() + "' in " + where + Suggest.hint(e.getKey(), TOKEN_KEYS));
            }
        }
        JsonNode f = node.get("force");
        if (f != null && !f.isNull() && !f.isBoolean()) {
            throw new ConfigException(where + ".force must be true or false, not " + Setting.describe(f));
        }
        boolean force = f != null && f.asBoolean();
        JsonNode src = node.get("source");
        if (src == null || src.isNull()) {
            throw new ConfigException(where + " has no source (a model, {kind: zero} or {kind: model_token, ...})");
        }
        if (src.isTextual()) {
            return new MergeConfig.TokenEmbedding(MergeConfig.TokenEmbedding.Kind.MODEL, ref(node, "source", where + ".source"),
                    null, null, force);
        }
        if (!src.isObject()) {
            throw new ConfigException(where + ".source must be a model, {kind: zero} or {kind: model_token, ...}, not "
                    + Setting.describe(src));
        }
        for (Map.Entry<String, JsonNode> e : src.properties()) {
            if (!TOKEN_SOURCE_KEYS.contains(e.getKey())) {
                throw new ConfigException("unknown key '" + e.getKey() + "' in " + where + ".source"
                        + Suggest.hint(e.getKey(), TOKEN_SOURCE_KEYS));
            }
        }
        String kind = src.path("kind").isTextual() ? src.get("kind").asText() : null;
        if ("zero".equals(kind)) {
            if (src.size() != 1) {
                throw new ConfigException(where + ".source: {kind: zero} takes no other key");
            }
            return new MergeConfig.TokenEmbedding(MergeConfig.TokenEmbedding.Kind.ZERO, null, null, null, force);
        }
        if (!"model_token".equals(kind)) {
            throw new ConfigException(where + ".source.kind must be zero or model_token, not " + Setting.describe(src.get("kind")));
        }
        if (!src.path("model").isTextual()) {
            throw new ConfigException(where + ".source (model_token) needs model: the model whose row is taken");
        }
        JsonNode token = src.get("token");
        JsonNode id = src.get("token_id");
        boolean hasToken = token != null && !token.isNull();
        boolean hasId = id != null && !id.isNull();
        if (hasToken == hasId) {
            throw new ConfigException(where + ".source (model_token) needs exactly one of token and token_id");
        }
        if (hasToken && !token.isTextual()) {
            throw new ConfigException(where + ".source.token must be a token's text, not " + Setting.describe(token));
        }
        if (hasId && !(id.isIntegralNumber() && id.canConvertToInt() && id.intValue() >= 0)) {
            throw new ConfigException(where + ".source.token_id must be a whole number of at least 0, not " + Setting.describe(id));
        }
        return new MergeConfig.TokenEmbedding(MergeConfig.TokenEmbedding.Kind.MODEL_TOKEN, ref(src, "model", where + ".source.model"),
                hasToken ? token.asText() : null, hasId ? id.intValue() : null, force);
    }

    private MergeConfig.Model model(JsonNode node, String where) {
        if (!node.isObject()) {
            throw new ConfigException(where + " must be a mapping like {model: PATH}, not " + Setting.describe(node));
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String k = e.getKey();
            if (!MODEL_KEYS.contains(k)) {
                String hint = Param.allKeys().contains(k) ? "; it is a parameter: put it under " + where + ".parameters"
                        : Suggest.hint(k, MODEL_KEYS);
                throw new ConfigException("unknown key '" + k + "' in " + where + hint);
            }
        }
        ModelRef model = ref(node, "model");
        if (model == null) {
            throw new ConfigException(where + " has no 'model'");
        }
        return new MergeConfig.Model(model, ref(node, "fisher"), parameters(node.get("parameters"), where + ".parameters", true));
    }

    private Map<String, Setting> parameters(JsonNode node, String where, boolean perModel) {
        Map<String, Setting> out = new LinkedHashMap<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (!node.isObject()) {
            throw new ConfigException(where + " must be a mapping of parameter names to values");
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String k = e.getKey();
            if (k.equals(EMBED_SLERP)) {
                embedSlerp(e.getValue(), where + "." + k);
                continue;
            }
            Parameter p = Parameter.byKey(k);
            if (p == null && !Param.MERGEKIT_ONLY.contains(k)) {
                throw new ConfigException("unknown parameter '" + k + "' in " + where + Suggest.hint(k, Param.allKeys()));
            }
            boolean modelParam = p != null ? p.perModel() : Param.MERGEKIT_PER_MODEL.contains(k);
            if (perModel && !modelParam) {
                throw new ConfigException("'" + k + "' in " + where + " is a global parameter: put it under the top-level 'parameters'");
            }
            Setting s = p != null && p.kind() == Parameter.Kind.INTEGER ? Setting.whole(e.getValue(), where + "." + k)
                    : Setting.parse(e.getValue(), where + "." + k);
            if (p != null) {
                checkKind(p, s, where + "." + k);
            }
            out.put(k, s);
        }
        return out;
    }

    /** Older mergekit's switch for slerp on the embeddings when tokenizers are merged: accepted and ignored, as mergekit does now. */
    private void embedSlerp(JsonNode value, String where) {
        if (!value.isBoolean()) {
            throw new ConfigException(where + " must be true or false, not " + Setting.describe(value));
        }
        if (warnings.stream().noneMatch(w -> w.startsWith("'" + EMBED_SLERP + "'"))) {
            warnings.add("'" + EMBED_SLERP + "' ignored: mergekit has not read it since 0.0.5 (the embeddings are merged"
                    + " by merge_method like the other tensors)");
        }
    }

    private static void checkKind(Parameter p, Setting s, String where) {
        boolean ok = switch (p.kind()) {
            case FLAG -> s instanceof Setting.Flag;
            case SCALAR_NUMBER -> s instanceof Setting.Number;
            case INTEGER -> s instanceof Setting.Whole;
            case NUMBER -> numeric(s);
        };
        if (!ok) {
            throw new ConfigException(where + " must be " + switch (p.kind()) {
                case FLAG -> "true or false";
                case SCALAR_NUMBER -> "a single number";
                case INTEGER -> "a whole number";
                case NUMBER -> "a number, a list of numbers or a filter list of those";
            });
        }
    }

    private static boolean numeric(Setting s) {
        return switch (s) {
            case Setting.Number n -> true;
            case Setting.Gradient g -> true;
            case Setting.Flag f -> false;
            case Setting.Whole w -> false;
            case Setting.Filtered f -> f.cases().stream().allMatch(c -> numeric(c.value()));
        };
    }

    private static String text(JsonNode node, String key, boolean required) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            if (required) {
                throw new ConfigException("'" + key + "' is missing");
            }
            return null;
        }
        if (!v.isTextual() && !v.isNumber()) {
            throw new ConfigException("'" + key + "' must be text, not " + Setting.describe(v));
        }
        return v.asText();
    }

    /** Where {@code ref(node, key)} resolved, or null. */
    private Path refPath(JsonNode node, String key) {
        ModelRef r = ref(node, key);
        return r == null ? null : r.path();
    }

    private ModelRef ref(JsonNode node, String key) {
        return ref(node, key, key);
    }

    /** The model {@code node.key} names; {@code where} names it in messages. */
    private ModelRef ref(JsonNode node, String key, String where) {
        String s = text(node, key, false);
        try {
            return s == null ? null : ModelRef.resolve(s, dir, cache);
        } catch (ConfigException e) {
            throw new ConfigException(where + ": " + e.getMessage());
        }
    }
}
