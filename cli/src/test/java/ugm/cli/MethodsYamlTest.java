package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The public cases of docs/mergekit-methods.md, run from mergekit-style YAML (and one through the flags). */
class MethodsYamlTest {
    @TempDir
    Path tmp;
    int runs;

    /** A one-tensor F32 checkpoint, written by hand (the safetensors layout is the spec here). */
    private Path model(String name, double... v) throws IOException {
        return model(name, String.valueOf(v.length), v);
    }

    private Path model(String name, String shape, double... v) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[0," + 4 * v.length + "]}}";
        while (header.length() % 8 != 0) {
            header += " ";
        }
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (double x : v) {
            b.putFloat((float) x);
        }
        Files.write(dir.resolve("model.safetensors"), b.array());
        return dir;
    }

    private static float[] read(Path dir) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("model.safetensors"))).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong();
        b.position((int) (8 + n));
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    private float[] merge(String yaml) throws IOException {
        Path cfg = tmp.resolve("merge-" + runs + ".yml");
        Path out = tmp.resolve("out-" + runs++);
        Files.writeString(cfg, Configs.absolute(yaml, tmp));
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        return read(out);
    }

    private static void close(double[] expected, float[] got) {
        assertEquals(expected.length, got.length);
        for (int i = 0; i < got.length; i++) {
            assertEquals(expected[i], got[i], 1e-6 * Math.max(1, Math.abs(expected[i])), Arrays.toString(got));
        }
    }

    @Test
    void linearAndTaskArithmetic() throws IOException {
        model("a", 1, 2, 3);
        model("b", 3, -2, 1);
        close(new double[] {1.8, 0.4, 2.2}, merge("""
                merge_method: linear
                models:
                  - {model: a, parameters: {weight: 0.6}}
                  - {model: b, parameters: {weight: 0.4}}
                """));
        model("one", 1, 1, 1, 1);
        model("t1", 2, -1, 1.5, 1);
        model("t2", -2, 2, 1.25, 2.5);
        String ta = """
                merge_method: task_arithmetic
                base_model: one
                models: [{model: t1}, {model: t2}]
                parameters: {weight: 0.5, lambda: %s}
                """;
        close(new double[] {0, 0.5, 1.375, 1.75}, merge(ta.formatted(1)));
        close(new double[] {-1, 0, 1.75, 2.5}, merge(ta.formatted(2)));
    }

    @Test
    void ties() throws IOException {
        model("zero", 0, 0, 0, 0);
        model("x1", 1, -2, 0.5, 0);
        model("x2", -3, 1, 0.25, 1.5);
        String yaml = """
                merge_method: ties
                base_model: zero
                models:
                  - {model: x1, parameters: {weight: %s, density: %s}}
                  - {model: x2, parameters: {weight: 1, density: %s}}
                parameters: {%s}
                """;
        close(new double[] {-3, -2, 0.375, 1.5}, merge(yaml.formatted(1, 1, 1, "normalize: true")));
        close(new double[] {-3, -2, 0.75, 1.5}, merge(yaml.formatted(1, 1, 1, "normalize: false")));
        close(new double[] {-3, -2, 0.416667, 1.5}, merge(yaml.formatted(2, 1, 1, "")));
        close(new double[] {-3, -2, 0, 1.5}, merge(yaml.formatted(1, 0.5, 0.5, "")));
        close(new double[] {-3.833333, -2.333333, 0, 1.916667}, merge(yaml.formatted(1, 0.5, 0.5, "rescale: true")));
    }

    @Test
    void slerpBreadcrumbsModelStockNearswap() throws IOException {
        model("v0", 1, 0);
        model("v1", 0, 2);
        String slerp = "merge_method: slerp\nbase_model: v0\nmodels: [{model: v0}, {model: v1}]\nparameters: {t: %s}\n";
        close(new double[] {0.7071068, 1.4142135}, merge(slerp.formatted(0.5)));
        close(new double[] {0.9238795, 0.7653669}, merge(slerp.formatted(0.25)));
        model("c0", 1, 1);
        model("c1", 2, 2);
        close(new double[] {1.3, 1.3}, merge("merge_method: slerp\nbase_model: c0\nmodels: [{model: c0}, {model: c1}]\nparameters: {t: 0.3}\n"));

        model("z10", new double[10]);
        model("d", 0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0);
        close(new double[] {0, 0, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, 0}, merge("""
                merge_method: breadcrumbs
                base_model: z10
                models: [{model: d, parameters: {weight: 1, density: 0.7, gamma: 0.1}}]
                """));

        model("ones", 1, 1, 1, 1);
        model("s1", 2, 2, 1, 1);
        model("s2", 2, 1, 1, 1);
        close(new double[] {1.8284271, 1.4142135, 1, 1},
                merge("merge_method: model_stock\nbase_model: ones\nmodels: [{model: s1}, {model: s2}]\n"));

        model("a3", 1, 1, 1);
        model("b3", 1.00005, 1.5, 3);
        String near = "merge_method: nearswap\nbase_model: a3\nmodels: [{model: a3}, {model: b3}]\nparameters: {t: %s}\n";
        close(new double[] {1.00005, 1.0001, 1.0001}, merge(near.formatted("1.0e-4")));
        close(new double[] {1.00005, 1.25, 1.25}, merge(near.formatted(0.25)));
    }

    @Test
    void dareFlagsGiveTheYamlsBytesAndDensityOneIsTheIdentity() throws IOException {
        double[] base = new double[301];
        double[] x = new double[301];
        for (int i = 0; i < x.length; i++) {
            base[i] = Math.sin(i);
            x[i] = base[i] + Math.cos(3 * i) * 0.1;
        }
        Path b = model("db", base);
        Path m = model("dx", x);
        float[] yaml = merge("merge_method: dare_ties\nbase_model: db\nmodels: [{model: dx, parameters: {weight: 1, density: 0.4}}]\n"
                + "parameters: {random_seed: 3}\n");
        Path out = tmp.resolve("flags");
        Run r = Run.of("merge", "--method", "dare_ties", "--base", b.toString(), "--model", m.toString(), "--weight", "1",
                "--density", "0.4", "--seed", "3", "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertArrayEquals(yaml, read(out));
        // density 1: the sparsifier is the identity, so dare_linear is task arithmetic (θ0 + (θ1 − θ0) in float)
        float[] identity = merge("merge_method: dare_linear\nbase_model: db\nmodels: [{model: dx}]\n");
        assertArrayEquals(merge("merge_method: task_arithmetic\nbase_model: db\nmodels: [{model: dx}]\n"), identity);
    }

    @Test
    void dellaFlagsGiveTheYamlsBytesAndItsDefaultsAreMergekits() throws IOException {
        double[] base = new double[257];
        double[] x = new double[257];
        double[] y = new double[257];
        for (int i = 0; i < x.length; i++) {
            base[i] = Math.sin(i);
            x[i] = base[i] + Math.cos(3 * i) * 0.1;
            y[i] = base[i] - Math.sin(5 * i) * 0.07;
        }
        Path b = model("eb", base);
        Path m = model("ex", x);
        Path n = model("ey", y);
        float[] yaml = merge("merge_method: della_linear\nbase_model: eb\nmodels:\n"
                + "  - {model: ex, parameters: {weight: 0.6, density: 0.4, epsilon: 0.1}}\n"
                + "  - {model: ey, parameters: {weight: 0.4, density: 0.5}}\n"
                + "parameters: {random_seed: 3}\n");
        Path out = tmp.resolve("dflags");
        Run r = Run.of("merge", "--method", "della_linear", "--base", b.toString(), "--model", m.toString(), "--model", n.toString(),
                "--weight", "0.6", "--weight", "0.4", "--density", "0.4", "--density", "0.5", "--epsilon", "0.1", "--epsilon", "0.15",
                "--seed", "3", "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertArrayEquals(yaml, read(out));
        float[] otherEpsilon = merge("merge_method: della_linear\nbase_model: eb\nmodels:\n"
                + "  - {model: ex, parameters: {weight: 0.6, density: 0.4, epsilon: 0.3}}\n"
                + "  - {model: ey, parameters: {weight: 0.4, density: 0.5}}\n"
                + "parameters: {random_seed: 3}\n");
        assertEquals(false, Arrays.equals(yaml, otherEpsilon), "epsilon is read");
        // density 1 is no sparsification: della is then ties (sign election, normalize on by default)
        String two = "base_model: eb\nmodels: [{model: ex, parameters: {weight: 2}}, {model: ey, parameters: {weight: 1}}]\n";
        assertArrayEquals(merge("merge_method: ties\n" + two), merge("merge_method: della\n" + two));
        // and della_linear is task arithmetic (the element kernel there sums in another order: compare to 1e-6)
        float[] ta = merge("merge_method: task_arithmetic\n" + two);
        double[] expected = new double[ta.length];
        Arrays.setAll(expected, i -> ta[i]);
        close(expected, merge("merge_method: della_linear\n" + two));
    }

    @Test
    void modelStockFilterWiseTakesOneTPerRow() throws IOException {
        Path b = model("fb", "2,4", 1, 1, 1, 1, 1, 1, 1, 1);
        Path x = model("f1", "2,4", 2, 2, 1, 1, 3, 1, 1, 1);
        Path y = model("f2", "2,4", 2, 1, 1, 1, 3, 1, 1, 1);
        // row 0 is the public case (t = 0.8284271); in row 1 the task vectors agree: cos = 1, t = 1
        float[] rows = merge("merge_method: model_stock\nbase_model: fb\nmodels: [{model: f1}, {model: f2}]\n"
                + "parameters: {filter_wise: true}\n");
        close(new double[] {1.8284271, 1.4142135, 1, 1, 3, 1, 1, 1}, rows);
        float[] whole = merge("merge_method: model_stock\nbase_model: fb\nmodels: [{model: f1}, {model: f2}]\n");
        assertEquals(false, Arrays.equals(rows, whole), "without filter_wise one t serves the whole tensor");
        Path out = tmp.resolve("fwflags");
        Run r = Run.of("merge", "--method", "model_stock", "--base", b.toString(), "--model", x.toString(), "--model", y.toString(),
                "--filter-wise", "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertArrayEquals(rows, read(out));
    }

    /** multislerp: (1, 0) and (0, 2) at 45 degrees and their mean norm, 1.5·(√½, √½); without normalize_weights, 3·(√½, √½). */
    @Test
    void multislerpIsTheWeightedMeanDirectionAtTheWeightedMeanNorm() throws IOException {
        model("s0", 1, 0);
        model("s1", 0, 2);
        double h = Math.sqrt(0.5);
        close(new double[] {1.5 * h, 1.5 * h}, merge("merge_method: multislerp\nmodels: [{model: s0}, {model: s1}]\n"));
        model("sb", 1, 1);
        model("sb0", 2, 1);
        model("sb1", 1, 3);
        close(new double[] {1 + 1.5 * h, 1 + 1.5 * h},
                merge("merge_method: multislerp\nbase_model: sb\nmodels: [{model: sb0}, {model: sb1}]\n"));
        close(new double[] {1 + 3 * h, 1 + 3 * h}, merge("""
                merge_method: multislerp
                base_model: sb
                models: [{model: sb0}, {model: sb1}]
                parameters: {normalize_weights: false, eps: 1.0e-8}
                """));
    }

    /** passthrough: the one model, times its scale (its own, else the global one, else 1). */
    @Test
    void passthroughCopiesTheModelTimesItsScale() throws IOException {
        model("p", 1, -2, 0.25);
        close(new double[] {1, -2, 0.25}, merge("merge_method: passthrough\nmodels: [{model: p}]\n"));
        close(new double[] {0.5, -1, 0.125},
                merge("merge_method: passthrough\nmodels: [{model: p, parameters: {scale: [{filter: w, value: 0.5}]}}]\n"));
        close(new double[] {-3, 6, -0.75}, merge("merge_method: passthrough\nmodels: [{model: p}]\nparameters: {scale: -3}\n"));
    }

    /** nuslerp: (1, 0) and (0, 2) at t = 0.5 (45 degrees), per tensor; per row, [1, 0] and [2, 0] are colinear (lerp). */
    @Test
    void nuslerpIsSlerpAtTheWeightsRatio() throws IOException {
        model("n0", 1, 0);
        model("n1", 0, 2);
        double h = Math.sqrt(0.5);
        close(new double[] {h, 2 * h}, merge("merge_method: nuslerp\nmodels: [{model: n0}, {model: n1}]\n"));
        model("r0", "2,2", 1, 0, 1, 0);
        model("r1", "2,2", 2, 0, 0, 2);
        close(new double[] {1.25, 0, Math.sin(0.75 * Math.PI / 2), 2 * Math.sin(0.25 * Math.PI / 2)}, merge("""
                merge_method: nuslerp
                models: [{model: r0, parameters: {weight: 3}}, {model: r1, parameters: {weight: 1}}]
                parameters: {nuslerp_flatten: false}
                """));
    }

    /** karcher: (1, 0) and (0, 3), mean direction at 45 degrees, mean norm 2. */
    @Test
    void karcherIsTheMeanDirectionAtTheMeanNorm() throws IOException {
        model("k0", 1, 0);
        model("k1", 0, 3);
        double h = Math.sqrt(0.5);
        close(new double[] {2 * h, 2 * h}, merge("merge_method: karcher\nmodels: [{model: k0}, {model: k1}]\n"));
        close(new double[] {2 * h, 2 * h}, merge("merge_method: karcher\nmodels: [{model: k0}, {model: k1}]\nparameters: {max_iter: 0}\n"));
    }

    /**
     * sce: Δ1 = (1, 2, −1, 0), Δ2 = (3, −2, −1, 0), mean squares 1.5 and 3.5: weights 0.3 and 0.7.
     * Element 1 sums to 0 and elects +, so only model 1 counts there; element 3 has no sign. With
     * select_topk 0.5: two elements vary (variances 1 and 4), int(0.5·2) = 1 is kept, element 1.
     */
    @Test
    void sceSelectsWeighsAndElects() throws IOException {
        model("z4", 0, 0, 0, 0);
        model("e1", 1, 2, -1, 0);
        model("e2", 3, -2, -1, 0);
        String yaml = "merge_method: sce\nbase_model: z4\nmodels: [{model: e1}, {model: e2}]\nparameters: {select_topk: %s}\n";
        close(new double[] {2.4, 2, -1, 0}, merge(yaml.formatted(1)));
        close(new double[] {0, 2, 0, 0}, merge(yaml.formatted(0.5)));
    }

    /**
     * ram: the changes above epsilon (1e-6 is none), averaged where two models make them, kept where
     * one does. ramplus_tl: model 1 changes one element alone and two with model 2, ρ = 2, clamped to
     * alpha 0.2 by default (λ = 1.02), or λ = 1 + 0.5·2 with r 0.5 and alpha 5; model 2 changes nothing alone.
     * With epsilon 0 the 1e-6 is a change too, model 1's second alone: ρ = 1, λ = 1.5.
     */
    @Test
    void ramAveragesSharedChangesAndRamplusScalesUniqueOnes() throws IOException {
        model("z5", 0, 0, 0, 0, 0);
        model("r1", 1, 2, 0, 4, 1e-6);
        model("r2", 3, 0, 0, -2, 0);
        String models = "base_model: z5\nmodels: [{model: r1, parameters: {weight: 3}}, {model: r2}]\n";
        close(new double[] {2, 2, 0, 1, 0}, merge("merge_method: ram\n" + models));
        close(new double[] {2, 2.04, 0, 1, 0}, merge("merge_method: ramplus_tl\n" + models));
        close(new double[] {2, 4, 0, 1, 0}, merge("merge_method: ramplus_tl\n" + models + "parameters: {r: 0.5, alpha: 5}\n"));
        close(new double[] {2, 3, 0, 1, 1.5e-6}, merge("merge_method: ramplus_tl\n" + models + "parameters: {r: 0.5, alpha: 5, epsilon: 0}\n"));
    }

    /**
     * arcee_fusion on rows of one element: each row's KL is 0, so every importance is 0, the
     * threshold is 0 and every element takes the model's value.
     */
    @Test
    void arceeFusionOnRowsOfOneElementTakesTheModel() throws IOException {
        model("fb", "3,1", 1, 2, 3);
        model("fx", "3,1", 1.5, -2, 3);
        close(new double[] {1.5, -2, 3}, merge("merge_method: arcee_fusion\nbase_model: fb\nmodels: [{model: fb}, {model: fx}]\n"));
    }
}
