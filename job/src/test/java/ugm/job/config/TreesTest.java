package ugm.job.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Trees} reads and writes what Jackson's own {@code ObjectMapper} over the same factory
 * reads and writes (here the oracle: the files ugm wrote with it before must not change).
 */
class TreesTest {
    private static final JsonFactory JSON = JsonFactory.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    private static final YAMLFactory YAML = YAMLFactory.builder().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES).enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR).build();

    /** A config-like tree with every kind of node, nested, and texts a YAML writer must quote. */
    private static ObjectNode tree() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("merge_method", "gradient_matching").put("layers", 32).put("big", 1L << 40).put("huge", new BigInteger("123456789012345678901234567890"))
                .put("rate", 1e-12).put("half", 0.5f).put("nan", Double.NaN).put("inf", Double.NEGATIVE_INFINITY)
                .put("decimal", new BigDecimal("0.1000")).put("yes", true).put("no", false).putNull("nothing");
        root.put("texts", "a: b").put("quoted", "'x'").put("number_like", "1e5").put("bool_like", "true").put("empty", "")
                .put("unicode", "π — ✓").put("control", "tab\there\nline").put("hash", "#comment");
        root.putArray("empty_list");
        root.putObject("empty_map");
        ObjectNode m = root.putArray("models").addObject();
        m.put("model", "/tmp/a b/task-1").putObject("parameters").put("weight", -0.25).putArray("density").add(0.1).add(0.9);
        root.withArray("models").addObject().put("model", "org/name@rev");
        root.putArray("nested").addArray().add(1).add("two").addArray().add(3.5);
        return root;
    }

    @Test
    void writesJsonAsAnIndentingObjectMapperDoes() throws Exception {
        ObjectMapper mapper = new ObjectMapper(JSON).enable(SerializationFeature.INDENT_OUTPUT);
        for (JsonNode node : List.of(tree(), JsonNodeFactory.instance.objectNode(), JsonNodeFactory.instance.arrayNode().add(1))) {
            assertEquals(mapper.writeValueAsString(node), Trees.write(JSON, node, true));
        }
        assertTrue(Trees.write(JSON, tree(), true).contains("\"layers\" : 32,\n"), "pretty-printed");
    }

    @Test
    void writesYamlAsAMapperOverTheSameFactoryDoes() throws Exception {
        YAMLMapper mapper = new YAMLMapper(YAML);
        assertEquals(mapper.writeValueAsString(tree()), Trees.write(YAML, tree(), false));
    }

    @Test
    void readsWhatReadTreeReads() throws Exception {
        ObjectMapper mapper = new ObjectMapper(JSON);
        String pretty = new ObjectMapper(JSON).enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(tree());
        for (String text : List.of(pretty, "{\"a\": 1, \"a\": 2, \"b\": [true, null, -0, 1.5e300, NaN, -Infinity]}",
                "[1, 2147483648, 9223372036854775808, 0.1, \"x\"]", "\"just text\"", "42", "  {\"deep\": {\"er\": [[[{}]]]}}  ")) {
            JsonNode expected = mapper.readTree(text);
            try (JsonParser p = JSON.createParser(text)) {
                JsonNode got = Trees.read(p);
                assertEquals(expected, got, text);
                assertEquals(expected.getClass(), got.getClass(), text);
            }
        }
        try (JsonParser p = JSON.createParser("[2147483648, 9223372036854775808, 0.1]")) {
            JsonNode n = Trees.read(p);
            assertEquals(List.of("LongNode", "BigIntegerNode", "DoubleNode"),
                    List.of(n.get(0).getClass().getSimpleName(), n.get(1).getClass().getSimpleName(), n.get(2).getClass().getSimpleName()));
        }
        try (JsonParser p = JSON.createParser("   ")) {
            assertEquals(MissingNode.getInstance(), Trees.read(p), "an empty input");
        }
    }
}
