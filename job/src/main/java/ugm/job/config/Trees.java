package ugm.job.config;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * Jackson trees ({@link JsonNode}) read and written through Jackson's streaming API alone, with
 * the bytes an {@code ObjectMapper} over the same factory reads and writes (TreesTest holds them
 * to it). Building an {@code ObjectMapper} took about 80 ms of every merge's start, its date
 * formats loading the JDK's locale data, for the three small files a merge writes (ugm_config.yml,
 * the model card's front matter, config.json).
 */
public final class Trees {
    private Trees() {
    }

    /**
     * {@code node} as {@code factory} writes it: pretty-printed as an {@code ObjectMapper} with
     * {@code INDENT_OUTPUT} does ({@code pretty}; JSON), or as the generator lays it out (YAML).
     */
    public static String write(JsonFactory factory, JsonNode node, boolean pretty) {
        StringWriter text = new StringWriter();
        try (JsonGenerator g = factory.createGenerator(text)) {
            if (pretty) {
                g.useDefaultPrettyPrinter();
            }
            write(g, node);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // (a StringWriter does not fail)
        }
        return text.toString();
    }

    private static void write(JsonGenerator g, JsonNode n) throws IOException {
        switch (n.getNodeType()) {
            case OBJECT -> {
                g.writeStartObject(n);
                for (Map.Entry<String, JsonNode> e : n.properties()) {
                    g.writeFieldName(e.getKey());
                    write(g, e.getValue());
                }
                g.writeEndObject();
            }
            case ARRAY -> {
                g.writeStartArray(n, n.size());
                for (JsonNode v : n) {
                    write(g, v);
                }
                g.writeEndArray();
            }
            case STRING -> g.writeString(n.textValue());
            case NUMBER -> {
                switch (n.numberType()) {
                    case INT -> g.writeNumber(n.intValue());
                    case LONG -> g.writeNumber(n.longValue());
                    case BIG_INTEGER -> g.writeNumber(n.bigIntegerValue());
                    case FLOAT -> g.writeNumber(n.floatValue());
                    case DOUBLE -> g.writeNumber(n.doubleValue());
                    default -> g.writeNumber(n.decimalValue());
                }
            }
            case BOOLEAN -> g.writeBoolean(n.booleanValue());
            case NULL -> g.writeNull();
            default -> throw new IllegalArgumentException("a " + n.getNodeType() + " node has no text"); // (binary, POJO, missing)
        }
    }

    /**
     * The value {@code p} is at, or starts next, as a tree: what {@code ObjectMapper.readTree}
     * makes of it (a repeated key keeps its last value; integers are int, long or big-integer
     * nodes by size, other numbers doubles); {@link MissingNode} where the input is empty.
     */
    public static JsonNode read(JsonParser p) throws IOException {
        JsonToken t = p.currentToken() != null ? p.currentToken() : p.nextToken();
        return t == null ? MissingNode.getInstance() : value(p, t);
    }

    private static JsonNode value(JsonParser p, JsonToken t) throws IOException {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (t) {
            case START_OBJECT -> {
                ObjectNode o = f.objectNode();
                for (JsonToken k = p.nextToken(); k == JsonToken.FIELD_NAME; k = p.nextToken()) {
                    String name = p.currentName();
                    o.set(name, value(p, p.nextToken()));
                }
                yield o;
            }
            case START_ARRAY -> {
                ArrayNode a = f.arrayNode();
                for (JsonToken v = p.nextToken(); v != JsonToken.END_ARRAY; v = p.nextToken()) {
                    a.add(value(p, v));
                }
                yield a;
            }
            case VALUE_STRING -> f.textNode(p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> f.numberNode(p.getIntValue());
                case LONG -> f.numberNode(p.getLongValue());
                default -> f.numberNode(p.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> p.getNumberType() == JsonParser.NumberType.BIG_DECIMAL ? f.numberNode(p.getDecimalValue())
                    : p.getNumberType() == JsonParser.NumberType.FLOAT ? f.numberNode(p.getFloatValue()) : f.numberNode(p.getDoubleValue());
            case VALUE_TRUE -> f.booleanNode(true);
            case VALUE_FALSE -> f.booleanNode(false);
            case VALUE_NULL -> f.nullNode();
            default -> throw new com.fasterxml.jackson.core.JsonParseException(p, "unexpected " + t);
        };
    }
}
