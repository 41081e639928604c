package ugm.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import ugm.core.merge.methods.Method;
import ugm.job.config.MergeConfig;
import ugm.job.config.ModelRef;

/** The model card's front matter is YAML that reads back to what was meant, whatever the folders are called. */
class ModelCardTest {
    private static final YAMLMapper YAML = new YAMLMapper();

    static final String[] HOSTILE = {"my: base #1", "it's \"quoted\"", "two\nlines", "---", "...", "- dash", "&anchor", "*alias",
            "!tag", "? key", "{flow}", "[list]", "% directive", "@at", "`tick`", "modèle-ünï-模型", "true", "null", "1.5e3", "0x1F",
            "~", " padded ", "tab\there", "#hash", "a\n---\nb: c", "x".repeat(300), "back\\slash", "\u0085nel\u2028ls"};

    private static MergeConfig config(ModelRef base, String task) {
        return new MergeConfig(Method.GRADIENT_MATCHING, base, null,
                List.of(new MergeConfig.Model(new ModelRef(task, Path.of("/m", task), null, null, null), null, Map.of())),
                Map.of(), null, null, null, null, null);
    }

    /** The front matter, parsed: the text between the first two {@code ---} lines. */
    static JsonNode frontMatter(String card) throws IOException {
        assertTrue(card.startsWith("---\n"), card);
        int end = card.indexOf("\n---\n", 3);
        assertTrue(end > 0, card);
        return YAML.readTree(card.substring(4, end + 1));
    }

    @Test
    void anyFolderNameIsOneValueOfTheFrontMatter() throws IOException {
        for (String name : HOSTILE) {
            ModelRef base = new ModelRef(name, Path.of("/models", name), null, null, null);
            MergeConfig c = config(base, name);
            String card = ModelCard.of(c, List.of(new MergeSetup.FisherSource(name, "/f/" + name)), c.toYaml(), "1.2.3");
            JsonNode front = frontMatter(card);
            assertEquals(name, front.get("base_model").textValue(), card);
            assertEquals("transformers", front.get("library_name").textValue());
            assertEquals(List.of("merge", "ugm"), YAML.convertValue(front.get("tags"), List.class));
            assertEquals(3, front.size(), card);
            // The body: the config block holds the config, which reads back to the same names.
            String body = card.substring(card.indexOf("\n---\n") + 5);
            int open = body.indexOf("yaml\n");
            String fence = body.substring(body.lastIndexOf('\n', open) + 1, open);
            String yaml = body.substring(open + 5, body.lastIndexOf(fence));
            JsonNode config = YAML.readTree(yaml);
            assertEquals("/models/" + name, config.get("base_model").textValue());
            assertEquals("/m/" + name, config.get("models").get(0).get("model").textValue());
            assertTrue(body.contains("## Fishers"), body);
        }
    }

    @Test
    void aBaseFromTheHubIsNamedByItsIdAndAFolderByItsName() throws IOException {
        ModelRef hub = new ModelRef("org/name@v2", Path.of("/cache/models--org--name/snapshots/abc"), "org/name", "v2", null);
        String card = ModelCard.of(config(hub, "t"), List.of(), config(hub, "t").toYaml(), "1");
        assertEquals("org/name", frontMatter(card).get("base_model").textValue());
        assertTrue(card.contains("on the base `org/name@v2`"), card);
        assertTrue(card.contains("base_model: org/name@v2\n"), "the config block names the id and revision: " + card);
        assertFalse(card.contains("## Fishers"), "no Fisher read, none listed");

        ModelRef folder = new ModelRef("base", Path.of("/work/llama-base"), null, null, null);
        assertEquals("llama-base", frontMatter(ModelCard.of(config(folder, "t"), List.of(), "", "1")).get("base_model").textValue());
    }
}
