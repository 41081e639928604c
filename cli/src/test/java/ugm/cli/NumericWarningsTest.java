package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.SafetensorsWriter;

/**
 * ugm merge tells, one warning line per tensor, what finite inputs could not give as finite
 * outputs, and what a negative gradient-matching weight does; parameters that leave a method
 * undefined are usage errors.
 */
class NumericWarningsTest {
    @TempDir
    Path dir;

    Path model(String name, float... w) {
        Path f = dir.resolve(name + ".safetensors");
        List<TensorInfo> ts = List.of(new TensorInfo("w", DType.F32, new long[] {w.length}));
        try (SafetensorsWriter writer = SafetensorsWriter.create(f, ts, Map.of())) {
            MemorySegment s = writer.target(ts.get(0));
            for (int i = 0; i < w.length; i++) {
                s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, w[i]);
            }
            writer.commit();
        }
        return f;
    }

    @Test
    void valuesBeyondTheOutputDtypeAreOneWarningLinePerTensor() {
        Path m1 = model("m1", 1e5f, 2f, -7e4f, 4f);
        Path m2 = model("m2", 1e5f, 4f, -7e4f, 4f);
        Run r = Run.of("merge", "--method", "linear", "--model", m1.toString(), "--model", m2.toString(), "--out-dtype", "f16",
                "--out", dir.resolve("out").toString());
        assertEquals(0, r.code(), r::toString);
        List<String> warnings = r.err().lines().filter(l -> l.startsWith("ugm: warning:")).toList();
        assertEquals(List.of("ugm: warning: tensor 'w': 2 values beyond the F16 range (largest finite 65504) were written as infinity"),
                warnings);
    }

    @Test
    void aNegativeGradientMatchingWeightIsSaidToSubtractItsTask() {
        Path base = model("base", 0.5f, 0.25f, 0f, 1f);
        Path m = model("m", 0.75f, 0.5f, 0.25f, 1f);
        Path h = model("h", 4f, 4f, 4f, 4f);
        Path h0 = model("h0", 1f, 1f, 1f, 1f);
        Run r = Run.of("merge", "--method", "gradient_matching", "--base", base.toString(), "--base-fisher", h0.toString(),
                "--model", m.toString(), "--fisher", h.toString(), "--weight", "-1", "--out", dir.resolve("out").toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.err().contains("ugm: warning: gradient_matching: model 1 (lambda × weight = -1.0) has a negative weight,"
                + " so its task is subtracted"), r::toString);
        assertTrue(r.err().contains("Hbar clamped from below on 4 elements"), r::toString);
    }

    @Test
    void fisherWeightsSummingToZeroAreAUsageError() {
        Path m1 = model("m1", 1f, 2f);
        Path m2 = model("m2", 3f, 4f);
        Path h = model("h", 1f, 0f);
        Run r = Run.of("merge", "--method", "fisher", "--model", m1.toString(), "--fisher", h.toString(), "--model", m2.toString(),
                "--fisher", h.toString(), "--weight", "1", "--weight", "-1", "--out", dir.resolve("out").toString());
        assertEquals(2, r.code(), r::toString);
        assertTrue(r.errLine().contains("fisher needs weights that do not sum to 0"), r::toString);
    }
}
