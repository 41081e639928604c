package ugm.job;

import java.util.List;
import ugm.job.config.MergeConfig;

/** The short README.md written beside a merged model. */
final class ModelCard {
    private ModelCard() {
    }

    static String of(MergeConfig config, String yaml, String version) {
        StringBuilder sb = new StringBuilder();
        sb.append("---\ntags:\n- merge\n- ugm\n");
        if (config.base() != null) {
            sb.append("base_model: ").append(ugm.io.AdapterRef.modelFolder(config.base()).getFileName()).append('\n');
        }
        sb.append("---\n\n# Merged model\n\n");
        sb.append("Merged with ugm ").append(version).append(" by the `")
                .append(config.method().id()).append("` method");
        if (config.base() != null) {
            sb.append(" on the base `").append(config.base()).append('`');
        }
        sb.append(".\n\n## Inputs\n\n");
        List<MergeConfig.Model> models = config.models();
        for (MergeConfig.Model m : models) {
            sb.append("- `").append(m.path()).append('`');
            if (m.fisher() != null) {
                sb.append(" (Fisher `").append(m.fisher()).append("`)");
            }
            sb.append('\n');
        }
        sb.append("\n## Configuration\n\nThe parameters, as `ugm_config.yml` beside this file holds them"
                + " (run it again with `ugm merge ugm_config.yml OUT_DIR`):\n\n```yaml\n").append(yaml).append("```\n");
        return sb.toString();
    }
}
