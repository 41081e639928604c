package ugm.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What ugm reads of a PEFT {@code adapter_config.json}: the rank {@code r}, {@code lora_alpha},
 * {@code use_rslora}, {@code fan_in_fan_out}, and the per-module {@code rank_pattern} and
 * {@code alpha_pattern}. Adapters ugm cannot apply as PEFT would are refused: another
 * {@code peft_type}, DoRA ({@code use_dora}), {@code lora_bias}, {@code layer_replication}.
 */
record LoraConfig(Path file, int r, double alpha, boolean rslora, boolean fanInFanOut,
                  Map<Pattern, Double> rankPattern, Map<Pattern, Double> alphaPattern) {

    static final String FILE = "adapter_config.json";
    private static final long MAX_BYTES = 16L << 20;

    /** The rank of the module called {@code module} (its name in the base, without {@code .weight}): rank_pattern's, else r. */
    int rank(String module) {
        Double v = match(rankPattern, module);
        return v != null ? (int) (double) v : r;
    }

    /** lora_alpha / rank, or lora_alpha / √rank with use_rslora; lora_alpha from alpha_pattern when it names the module. */
    double scale(String module) {
        Double a = match(alphaPattern, module);
        double alpha = a != null ? a : this.alpha;
        int rank = rank(module);
        return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /** PEFT's rule: the first pattern (in file order) that the module name ends with, after a dot or whole. */
    private static Double match(Map<Pattern, Double> patterns, String module) {
        for (Map.Entry<Pattern, Double> e : patterns.entrySet()) {
            if (e.getKey().matcher(module).matches()) {
                return e.getValue();
            }
        }
        return null;
    }

    /**
     * Reads {@code file}.
     *
     * @throws AdapterException when it is not JSON, lacks r or lora_alpha, or asks for what ugm does not apply
     * @throws ugm.core.UgmException of kind IO when it cannot be read
     */
    static LoraConfig read(Path file) {
        Map<String, Object> fields = new LinkedHashMap<>();
        Map<Pattern, Double> ranks = new LinkedHashMap<>();
        Map<Pattern, Double> alphas = new LinkedHashMap<>();
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new AdapterException(file, null, "larger than " + (MAX_BYTES >> 20) + " MiB; not an adapter config");
            }
            try (JsonParser p = ModelFiles.JSON.createParser(Files.newBufferedReader(file))) {
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    throw new AdapterException(file, null, "not a JSON object");
                }
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    JsonToken t = p.nextToken();
                    switch (t) {
                        case VALUE_STRING -> fields.put(key, p.getText());
                        case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> fields.put(key, p.getDoubleValue());
                        case VALUE_TRUE, VALUE_FALSE -> fields.put(key, t == JsonToken.VALUE_TRUE);
                        case START_OBJECT -> {
                            if (key.equals("rank_pattern") || key.equals("alpha_pattern")) {
                                patterns(p, file, key, key.equals("rank_pattern") ? ranks : alphas);
                            } else {
                                fields.put(key, Boolean.TRUE); // present; only layer_replication's presence matters
                                p.skipChildren();
                            }
                        }
                        case START_ARRAY -> {
                            fields.put(key, Boolean.TRUE);
                            p.skipChildren();
                        }
                        default -> { } // null: as absent
                    }
                }
                if (p.nextToken() != null) {
                    throw new AdapterException(file, null, "not valid JSON: content follows the object");
                }
            }
        } catch (JsonProcessingException e) {
            throw new AdapterException(file, null, "not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw Messages.io(file, "cannot read", e);
        }
        Object type = fields.get("peft_type");
        if (type != null && !"LORA".equals(type)) {
            throw new AdapterException(file, null, "peft_type is " + type + "; only LORA adapters can be applied");
        }
        refuse(file, fields, "use_dora", "DoRA adapters (use_dora) are not supported; merge it with PEFT's merge_and_unload");
        refuse(file, fields, "lora_bias", "adapters with a LoRA bias (lora_bias) are not supported");
        refuse(file, fields, "layer_replication", "adapters with layer_replication are not supported");
        Object r = fields.get("r");
        if (!(r instanceof Double d) || d != Math.rint(d) || d < 1 || d > Integer.MAX_VALUE) {
            throw new AdapterException(file, null, r == null ? "has no r (the rank)" : "r is " + r + ", not a positive whole number");
        }
        if (!(fields.get("lora_alpha") instanceof Double alpha) || !Double.isFinite(alpha)) {
            throw new AdapterException(file, null, fields.get("lora_alpha") == null ? "has no lora_alpha"
                    : "lora_alpha is " + fields.get("lora_alpha") + ", not a finite number");
        }
        return new LoraConfig(file, (int) (double) d, alpha, flag(file, fields, "use_rslora"), flag(file, fields, "fan_in_fan_out"),
                ranks, alphas);
    }

    private static boolean flag(Path file, Map<String, Object> fields, String key) {
        Object v = fields.get(key);
        if (v != null && !(v instanceof Boolean)) {
            throw new AdapterException(file, null, key + " is " + v + ", not true or false");
        }
        return Boolean.TRUE.equals(v);
    }

    private static void refuse(Path file, Map<String, Object> fields, String key, String problem) {
        Object v = fields.get(key);
        if (v != null && !Boolean.FALSE.equals(v)) {
            throw new AdapterException(file, null, problem);
        }
    }

    /** rank_pattern or alpha_pattern: module name patterns (Python regular expressions, as PEFT matches them) to numbers. */
    private static void patterns(JsonParser p, Path file, String key, Map<Pattern, Double> into) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String pattern = p.currentName();
            JsonToken t = p.nextToken();
            if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
                throw new AdapterException(file, null, key + " '" + pattern + "' is not a number");
            }
            double v = p.getDoubleValue();
            if (key.equals("rank_pattern") ? v != Math.rint(v) || v < 1 || v > Integer.MAX_VALUE : !Double.isFinite(v)) {
                throw new AdapterException(file, null, key + " '" + pattern + "' is " + v + ", not a "
                        + (key.equals("rank_pattern") ? "positive whole number" : "finite number"));
            }
            try {
                into.put(Pattern.compile("(.*\\.)?(" + pattern + ")"), v);
            } catch (PatternSyntaxException e) {
                throw new AdapterException(file, null, key + " '" + pattern + "' is not a regular expression: " + e.getDescription());
            }
        }
    }
}
