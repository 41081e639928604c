package ugm.job;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.util.List;
import ugm.job.config.MergeConfig;
import ugm.job.config.ModelRef;
import ugm.job.config.Trees;

/**
 * The README.md written beside a merged model: a Hugging Face model card. Its front matter is
 * written by the YAML library (every text double-quoted on one line, so any folder name stays one
 * value); the body names the method, the inputs, the Fishers and the config.
 */
final class ModelCard {
    private ModelCard() {
    }

    private static final YAMLFactory YAML = YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .disable(YAMLGenerator.Feature.SPLIT_LINES)
            .build();

    /**
     * The card: front matter with {@code base_model} (the base's Hugging Face id when it came
     * from the cache, else its folder name), {@code library_name: transformers} (as mergekit's
     * cards have it) and the tags {@code merge} and {@code ugm}.
     */
    static String of(MergeConfig config, List<MergeSetup.FisherSource> fishers, String yaml, String version) {
        StringBuilder sb = new StringBuilder("---\n").append(frontMatter(config)).append("---\n\n# Merged model\n\n");
        sb.append("Merged with ugm ").append(version).append(" by the `").append(config.method().id()).append("` method");
        if (config.base() != null) {
            sb.append(" on the base ").append(code(config.base().toString()));
        }
        sb.append(".\n\n## Inputs\n\n");
        for (MergeConfig.Model m : config.models()) {
            sb.append("- ").append(code(m.model().toString())).append('\n');
        }
        if (!fishers.isEmpty()) {
            sb.append("\n## Fishers\n\n");
            for (MergeSetup.FisherSource f : fishers) {
                sb.append("- for ").append(code(f.model())).append(": ").append(code(f.fisher())).append('\n');
            }
        }
        String fence = "`".repeat(Math.max(3, longestRun(yaml) + 1));
        sb.append("\n## Configuration\n\nThe parameters, as `ugm_config.yml` beside this file holds them"
                + " (run it again with `ugm merge ugm_config.yml OUT_DIR`):\n\n").append(fence).append("yaml\n")
                .append(yaml).append(fence).append('\n');
        return sb.toString();
    }

    private static String frontMatter(MergeConfig config) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ModelRef base = config.base();
        if (base != null) {
            root.put("base_model", base.fromHub() ? base.hubId() : String.valueOf(base.folder().getFileName()));
        }
        root.put("library_name", "transformers");
        root.putArray("tags").add("merge").add("ugm");
        return Trees.write(YAML, root, false);
    }

    /** {@code text} as a markdown code span: fenced by more backticks than it holds in a row, on one line. */
    private static String code(String text) {
        String t = text.replace('\n', ' ').replace('\r', ' ');
        String fence = "`".repeat(longestRun(t) + 1);
        String pad = t.startsWith("`") || t.endsWith("`") ? " " : "";
        return fence + pad + t + pad + fence;
    }

    /** The most backticks in a row in {@code text}. */
    private static int longestRun(String text) {
        int longest = 0;
        for (int i = 0, run = 0; i < text.length(); i++) {
            run = text.charAt(i) == '`' ? run + 1 : 0;
            longest = Math.max(longest, run);
        }
        return longest;
    }
}
