package ugm.job.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import ugm.core.DType;
import ugm.core.UgmException;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;

/**
 * Reads a mergekit-style YAML config; every mistake is one line naming the file and the key.
 *
 * <p>Stateless: safe to call from any thread.
 */
public final class ConfigParser {

    static final Set<String> TOP_KEYS = Set.of("merge_method", "base_model", "models", "parameters", "dtype", "out_dtype",
            "tokenizer_source", "base_fisher");
    static final Set<String> MODEL_KEYS = Set.of("model", "parameters", "fisher");
    /** mergekit keys for features ugm does not have yet. */
    static final Set<String> MERGEKIT_TOP_ONLY = Set.of("slices", "modules", "tokenizer", "chat_template");
    /** mergekit's merge methods that ugm does not run yet. */
    public static final Set<String> MERGEKIT_METHODS = Set.of("nuslerp", "passthrough", "sce", "karcher",
            "arcee_fusion");

    private final Path file;
    private final Path dir;

    private ConfigParser(Path file) {
        this.file = file;
        this.dir = file.toAbsolutePath().normalize().getParent();
    }

    /**
     * The largest config ugm reads, in bytes. Real configs are a few kilobytes. The YAML reader's
     * time and memory grow with the square of a line's length: a 3.2 MB comment took it 27 s and
     * 2.1 GB; one line of 1 MiB still takes seconds and most of a gigabyte, one of 256 KiB a
     * fraction of a second and no more memory than a small config.
     */
    public static final int MAX_BYTES = 256 << 10;

    /**
     * The YAML reader: a key twice in one mapping is an error (mergekit's reader keeps the last
     * silently, but a second {@code weight:} is a mistake far more often than an intent); floats
     * are kept as the decimals written (their double is the same as parsing them directly), so a
     * whole number written as a float ({@code 42.0}) is read exactly.
     */
    private static final YAMLMapper YAML = YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).build();

    /** Reads {@code file}; relative paths in it are relative to its folder. */
    public static MergeConfig read(Path file) {
        ConfigParser p = new ConfigParser(file);
        JsonNode root = parse(file, text(file));
        try {
            return p.config(root);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
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

    /** The one YAML document of {@code text}. */
    private static JsonNode parse(Path file, String text) {
        try (JsonParser parser = YAML.createParser(text)) {
            JsonNode root = YAML.readTree(parser);
            int documents = root == null ? 0 : 1;
            while (parser.nextToken() != null) { // the next document (an empty one included)
                YAML.readTree(parser);
                documents++;
            }
            if (documents > 1) {
                throw new ConfigException(file + " has " + documents + " YAML documents; ugm reads one");
            }
            return root;
        } catch (JsonProcessingException e) {
            String message = e.getOriginalMessage();
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
            Matcher duplicate = DUPLICATE.matcher(message);
            if (duplicate.matches()) {
                throw new ConfigException(file + ": duplicate key '" + duplicate.group(1) + "'" + where);
            }
            Matcher nonFinite = NON_FINITE.matcher(message);
            if (nonFinite.matches() && e.getProcessor() instanceof JsonParser p) {
                // Valid YAML that Jackson's number reader does not take; no parameter can be NaN or infinite anyway.
                String path = path(p.getParsingContext());
                throw new ConfigException(file + ": " + path + (path.contains("parameters") ? " must be a finite number, not "
                        : " cannot be ") + nonFinite.group(1));
            }
            throw new ConfigException(file + ": not valid YAML" + where + ": " + message.lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot read config " + file + ": " + e.getMessage(), e);
        }
    }

    /** Jackson's words for a key given twice in one mapping. */
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate field '(.*)'", Pattern.DOTALL);
    /** Jackson's words for YAML's non-finite floats (.nan, .inf, -.inf in their spellings), which it does not decode. */
    private static final Pattern NON_FINITE = Pattern.compile("Malformed numeric value '([-+]?\\.(?:inf|Inf|INF|nan|NaN|NAN))'");

    /** Where the parser is, as the errors below name it: {@code models[0].parameters.weight[1]}. */
    private static String path(JsonStreamContext c) {
        String s = "";
        for (; c != null && !c.inRoot(); c = c.getParent()) {
            s = (c.inArray() ? "[" + c.getCurrentIndex() + "]" : (c.getParent().inRoot() ? "" : ".") + c.getCurrentName()) + s;
        }
        return s;
    }

    /** The method named {@code name}, or a usage error saying what is and is not supported. */
    public static Method method(String name) {
        Method m = Method.byId(name.toLowerCase(Locale.ROOT));
        if (m != null) {
            return m;
        }
        if (MERGEKIT_METHODS.contains(name)) {
            throw new ConfigException("merge_method '" + name + "' is not supported yet; ugm runs " + Method.ids());
        }
        Set<String> all = new TreeSet<>(MERGEKIT_METHODS);
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
            if (Param.allKeys().contains(k)) {
                throw new ConfigException("'" + k + "' is a parameter: put it under 'parameters'");
            }
            throw new ConfigException("unknown key '" + k + "'" + Suggest.hint(k, TOP_KEYS));
        }
        String methodName = text(root, "merge_method", true);
        Method method = method(methodName);
        List<MergeConfig.Model> models = new ArrayList<>();
        JsonNode list = root.get("models");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new ConfigException("'models' must be a list of {model: PATH, parameters: {...}} entries");
        }
        for (int i = 0; i < list.size(); i++) {
            models.add(model(list.get(i), "models[" + i + "]"));
        }
        String tokenizer = text(root, "tokenizer_source", false);
        if (tokenizer != null && !tokenizer.equals("base")) {
            throw new ConfigException("tokenizer_source '" + tokenizer + "' is not supported yet: ugm copies the base model's"
                    + " tokenizer (tokenizer_source: base)");
        }
        String dtype = text(root, "dtype", false);
        String outDtype = text(root, "out_dtype", false);
        dtype(dtype, "dtype");
        dtype(outDtype, "out_dtype");
        return new MergeConfig(method, path(root, "base_model"), path(root, "base_fisher"), models,
                parameters(root.get("parameters"), "parameters", false), dtype, outDtype, tokenizer);
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
        Path model = path(node, "model");
        if (model == null) {
            throw new ConfigException(where + " has no 'model'");
        }
        return new MergeConfig.Model(model, path(node, "fisher"), parameters(node.get("parameters"), where + ".parameters", true));
    }

    private static Map<String, Setting> parameters(JsonNode node, String where, boolean perModel) {
        Map<String, Setting> out = new LinkedHashMap<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (!node.isObject()) {
            throw new ConfigException(where + " must be a mapping of parameter names to values");
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String k = e.getKey();
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

    private Path path(JsonNode node, String key) {
        String s = text(node, key, false);
        return s == null ? null : dir.resolve(s).normalize();
    }
}
