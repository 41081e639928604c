package ugm.io.fisher;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import ugm.core.UgmException;

/**
 * The top-level fields of a small JSON object file ({@code config.json}, {@code trainer_state.json})
 * that ugm reads: strings, numbers, booleans, and lists of strings; nested objects are skipped.
 * Read as Python's json module writes: NaN and Infinity are numbers.
 */
final class JsonFields {
    /** Larger files are refused: these are a few kilobytes, a long training's log_history a few megabytes. */
    static final long MAX_BYTES = 64L << 20;

    private static final JsonFactory JSON = JsonFactory.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private final Map<String, Object> fields;

    private JsonFields(Map<String, Object> fields) {
        this.fields = fields;
    }

    /**
     * Reads {@code file}.
     *
     * @throws UgmException of kind INVALID_INPUT when it is not one JSON object, IO when it cannot be read
     */
    static JsonFields read(Path file) {
        Map<String, Object> out = new HashMap<>();
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw Values.invalid(file.toString(), null, "larger than " + (MAX_BYTES >> 20) + " MiB; not the small JSON file expected");
            }
            try (JsonParser p = JSON.createParser(Files.newBufferedReader(file))) {
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    throw Values.invalid(file.toString(), null, "not a JSON object");
                }
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    JsonToken t = p.nextToken();
                    switch (t) {
                        case VALUE_STRING -> out.put(key, p.getText());
                        case VALUE_NUMBER_INT -> out.put(key, p.getNumberValue());
                        case VALUE_NUMBER_FLOAT -> out.put(key, p.getDoubleValue());
                        case VALUE_TRUE, VALUE_FALSE -> out.put(key, t == JsonToken.VALUE_TRUE);
                        case START_ARRAY -> {
                            List<String> strings = new ArrayList<>();
                            boolean all = true;
                            for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                                if (e == JsonToken.VALUE_STRING) {
                                    strings.add(p.getText());
                                } else {
                                    all = false;
                                    p.skipChildren();
                                }
                            }
                            if (all) {
                                out.put(key, List.copyOf(strings));
                            }
                        }
                        default -> p.skipChildren();
                    }
                }
                if (p.nextToken() != null) {
                    throw Values.invalid(file.toString(), null, "not valid JSON: content follows the object");
                }
            }
        } catch (JsonProcessingException e) {
            throw Values.invalid(file.toString(), null, "not valid JSON: " + e.getOriginalMessage());
        } catch (java.nio.charset.CharacterCodingException e) {
            throw Values.invalid(file.toString(), null, "not valid UTF-8");
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, file + ": cannot read: " + e.getMessage(), e);
        }
        return new JsonFields(out);
    }

    String string(String key) {
        return fields.get(key) instanceof String s ? s : null;
    }

    /** A whole number, or null when absent or not one (a float with no fraction counts). */
    Long whole(String key) {
        Object v = fields.get(key);
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (v instanceof Long || v instanceof Integer) {
                return n.longValue();
            }
            if (d == Math.rint(d) && Math.abs(d) < 9e15) {
                return (long) d;
            }
        }
        return null;
    }

    Double number(String key) {
        return fields.get(key) instanceof Number n ? n.doubleValue() : null;
    }

    Boolean flag(String key) {
        return fields.get(key) instanceof Boolean b ? b : null;
    }

    @SuppressWarnings("unchecked")
    List<String> strings(String key) {
        return fields.get(key) instanceof List<?> l ? (List<String>) l : List.of();
    }
}
