package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.job.config.ConfigException;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;
import ugm.job.config.Setting;

/** YAML as mergekit reads it (YAML 1.1, PyYAML's safe loader): anchors, aliases, merge keys; keys mergekit ignores. */
class ConfigYamlTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void models() {
        new Checkpoints().put("a.weight", 1, 2, 3).put("b.bias", 0.5f).write(tmp.resolve("base"));
        new Checkpoints().put("a.weight", 1, 2, 4).put("b.bias", 1).write(tmp.resolve("m1"));
        new Checkpoints().put("a.weight", 2, 2, 3).put("b.bias", 0).write(tmp.resolve("m2"));
    }

    private MergeConfig read(String yaml) throws IOException {
        Path cfg = tmp.resolve("merge.yml");
        Files.writeString(cfg, Configs.absolute(yaml, tmp));
        return ConfigParser.read(cfg);
    }

    private Run merge(String yaml, String out, String... extra) throws IOException {
        Path cfg = tmp.resolve(out + ".yml");
        Files.writeString(cfg, Configs.absolute(yaml, tmp));
        String[] args = new String[3 + extra.length];
        args[0] = "merge";
        args[1] = cfg.toString();
        args[2] = tmp.resolve(out).toString();
        System.arraycopy(extra, 0, args, 3, extra.length);
        return Run.of(args);
    }

    private static Setting number(double v) {
        return new Setting.Number(v);
    }

    @Test
    void mergeKeysTakeTheAnchoredMappingAndTheMappingsOwnKeysWin() throws IOException {
        MergeConfig c = read("""
                x-params: &common {weight: 0.5, density: 0.7}
                x-more: &more {density: 0.2, gamma: 0.05}
                merge_method: breadcrumbs
                base_model: base
                models:
                  - model: m1
                    parameters:
                      <<: *common
                      weight: 0.3
                  - model: m2
                    parameters:
                      <<: [*common, *more]
                """);
        assertEquals(java.util.Map.of("weight", number(0.3), "density", number(0.7)), c.models().get(0).parameters());
        // Of a list of merged mappings, the earlier wins (density 0.7 of *common, not 0.2 of *more).
        assertEquals(java.util.Map.of("weight", number(0.5), "density", number(0.7), "gamma", number(0.05)),
                c.models().get(1).parameters());
        assertEquals(List.of("unknown key 'x-params' ignored, as mergekit ignores it (the nearest known key is 'parameters')",
                "unknown key 'x-more' ignored, as mergekit ignores it (the nearest known key is 'dtype')"), c.warnings());
    }

    @Test
    void aliasesOfScalarsListsAndMappingsAreTheirValuesDecimalsExact() throws IOException {
        MergeConfig c = read("""
                merge_method: ties
                base_model: &b %s
                models:
                  - model: m1
                    parameters: &p {weight: &w 0.7, density: [0.1, &d 0.7]}
                  - model: m2
                    parameters: *p
                parameters: {lambda: *w, rescale: yes, normalize: off}
                """.formatted(tmp.resolve("base")));
        assertEquals(tmp.resolve("base"), c.base().path());
        assertEquals(c.models().get(0).parameters(), c.models().get(1).parameters());
        assertEquals(new Setting.Gradient(List.of(0.1, 0.7)), c.models().get(1).parameters().get("density"));
        assertEquals(number(0.7), c.parameters().get("lambda"));
        // YAML 1.1 booleans, as PyYAML reads them.
        assertEquals(new Setting.Flag(true), c.parameters().get("rescale"));
        assertEquals(new Setting.Flag(false), c.parameters().get("normalize"));
        assertEquals(List.of(), c.warnings());
    }

    @Test
    void aConfigWithAliasesMergesAsItsExpandedTwin() throws IOException {
        Run anchored = merge("""
                x-weights: &w {weight: 0.25}
                merge_method: linear
                base_model: base
                models:
                  - model: m1
                    parameters: {<<: *w}
                  - model: m2
                    parameters: *w
                """, "anchored");
        assertEquals(0, anchored.code(), anchored::toString);
        assertTrue(anchored.err().contains("ugm: warning: unknown key 'x-weights' ignored, as mergekit ignores it"), anchored.err());
        Run plain = merge("merge_method: linear\nbase_model: base\nmodels:\n  - model: m1\n    parameters: {weight: 0.25}\n"
                + "  - model: m2\n    parameters: {weight: 0.25}\n", "plain", "--quiet");
        assertEquals(0, plain.code(), plain::toString);
        assertArrayEquals(Files.readAllBytes(tmp.resolve("plain/model.safetensors")),
                Files.readAllBytes(tmp.resolve("anchored/model.safetensors")));
    }

    @Test
    void keysGivenTwiceAreErrorsButMergedKeysAreOverridden() throws IOException {
        ConfigException twice = assertThrows(ConfigException.class, () -> read("""
                x: &p {weight: 1}
                merge_method: linear
                models:
                  - model: m1
                    parameters:
                      <<: *p
                      density: 0.5
                      density: 0.6
                """));
        assertEquals(tmp.resolve("merge.yml") + ": duplicate key 'density' at line 8", twice.getMessage());
        ConfigException inMerged = assertThrows(ConfigException.class,
                () -> read("x: &p {weight: 1, weight: 2}\nmerge_method: linear\nmodels: [{model: m1, parameters: *p}]\n"));
        assertEquals(tmp.resolve("merge.yml") + ": duplicate key 'weight' at line 1", inMerged.getMessage());
    }

    @Test
    void aTypoOfAKnownKeyIsAnErrorAnyOtherKeyAWarning() throws IOException {
        String models = "merge_method: linear\nmodels: [{model: m1}, {model: m2}]\n";
        for (String typo : List.of("base_modle", "merge_methd", "paramters", "out_dtpe", "slice")) {
            ConfigException e = assertThrows(ConfigException.class, () -> read(models + typo + ": x\n"), typo);
            assertTrue(e.getMessage().contains("unknown key '" + typo + "'; did you mean '"), e.getMessage());
        }
        MergeConfig c = read(models + "name: my-merge\nlicense: apache-2.0\n");
        assertEquals(List.of("unknown key 'name' ignored, as mergekit ignores it (the nearest known key is 'dtype')",
                "unknown key 'license' ignored, as mergekit ignores it (the nearest known key is 'slices')"), c.warnings());
    }

    @Test
    void embedSlerpIsAcceptedAndIgnoredWithAWarning() throws IOException {
        String config = "merge_method: slerp\nbase_model: base\nmodels: [{model: base}, {model: m1}]\n";
        String warning = "'embed_slerp' ignored: mergekit has not read it since 0.0.5 (the embeddings are merged by"
                + " merge_method like the other tensors)";
        assertEquals(List.of(warning), read(config + "embed_slerp: true\n").warnings());
        MergeConfig inParameters = read(config + "parameters: {t: 0.5, embed_slerp: true}\nembed_slerp: true\n");
        assertEquals(List.of(warning), inParameters.warnings());
        assertFalse(inParameters.parameters().containsKey("embed_slerp"));
        Run r = merge(config + "parameters: {t: 0.5, embed_slerp: true}\n", "out");
        assertEquals(0, r.code(), r::toString);
        assertEquals(1, r.err().lines().filter(l -> l.contains("warning")).count(), r.err());
        assertTrue(r.err().contains("ugm: warning: " + warning + "\n"), r.err());
        ConfigException bad = assertThrows(ConfigException.class, () -> read(config + "parameters: {embed_slerp: 0.5}\n"));
        assertTrue(bad.getMessage().endsWith(": parameters.embed_slerp must be true or false, not 0.5"), bad.getMessage());
    }

    @Test
    void aConfigThatExpandsWithoutBoundIsOneErrorAtOnce() throws IOException {
        // The "billion laughs": nine levels of nine aliases each.
        StringBuilder laughs = new StringBuilder("merge_method: linear\nmodels: [{model: m1}]\nx0: &x0 [lol]\n");
        for (int i = 1; i <= 9; i++) {
            laughs.append("x").append(i).append(": &x").append(i).append(" [");
            laughs.append(String.join(", ", java.util.Collections.nCopies(9, "*x" + (i - 1)))).append("]\n");
        }
        long start = System.nanoTime();
        Run billion = merge(laughs.toString(), "out");
        assertEquals(ExitCodes.USAGE, billion.code(), billion::toString);
        assertEquals("ugm: " + tmp.resolve("out.yml") + ": uses more than 50 aliases of mappings or lists, the most ugm expands",
                billion.errLine());
        // Within the alias limit, two aliases a level double the size 24 times: 2^25 values.
        StringBuilder doubling = new StringBuilder("merge_method: linear\nmodels: [{model: m1}]\nx0: &x0 [lol]\n");
        for (int i = 1; i <= 24; i++) {
            doubling.append("x").append(i).append(": &x").append(i).append(" [*x").append(i - 1).append(", *x").append(i - 1)
                    .append("]\n");
        }
        Run doubled = merge(doubling.toString(), "out");
        assertEquals(ExitCodes.USAGE, doubled.code(), doubled::toString);
        assertEquals("ugm: " + tmp.resolve("out.yml") + ": holds more than 65536 values, its aliases expanded; a config holds a few hundred",
                doubled.errLine());
        Run itself = merge("merge_method: linear\nmodels: [{model: m1}]\nx: &x [1, *x]\n", "out");
        assertEquals(ExitCodes.USAGE, itself.code(), itself::toString);
        assertEquals("ugm: " + tmp.resolve("out.yml") + ": x[1] holds itself through an alias", itself.errLine());
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds < 5, "refused in " + seconds + " s");
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void yamlErrorsNameTheFileAndLine() throws IOException {
        ConfigException undefined = assertThrows(ConfigException.class,
                () -> read("merge_method: linear\nmodels:\n  - model: *nowhere\n"));
        assertEquals(tmp.resolve("merge.yml") + ": not valid YAML at line 3: found undefined alias nowhere", undefined.getMessage());
        ConfigException python = assertThrows(ConfigException.class,
                () -> read("merge_method: !!python/object:os.system linear\nmodels: [{model: m1}]\n"));
        // PyYAML's safe loader refuses it too.
        assertEquals(tmp.resolve("merge.yml") + ": not valid YAML at line 1: Global tag is not allowed:"
                + " tag:yaml.org,2002:python/object:os.system", python.getMessage());
    }
}
