package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

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

/** ugm merge warns, one line per tensor and file, about NaN and infinite input values, and still merges. */
class NonFiniteWarningTest {
    @TempDir
    Path dir;

    Path model(String name, int nanAt, int infAt) {
        Path f = dir.resolve(name + ".safetensors");
        List<TensorInfo> ts = List.of(new TensorInfo("clean", DType.F32, new long[] {100}),
                new TensorInfo("w", DType.F32, new long[] {100}));
        try (SafetensorsWriter w = SafetensorsWriter.create(f, ts, Map.of())) {
            for (TensorInfo t : ts) {
                MemorySegment s = w.target(t);
                for (int i = 0; i < 100; i++) {
                    s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i == nanAt && t.name().equals("w") ? Float.NaN
                            : i == infAt && t.name().equals("w") ? Float.NEGATIVE_INFINITY : i * 0.5f);
                }
            }
            w.commit();
        }
        return f;
    }

    @Test
    void oneWarningLinePerAffectedTensorAndFile() {
        Path base = model("base", -1, -1);
        Path m1 = model("m1", 10, -1);
        Path m2 = model("m2", 20, 30);
        Run r = Run.of("merge", "--method", "task_arithmetic", "--base", base.toString(), "--model", m1.toString(),
                "--model", m2.toString(), "--out", dir.resolve("out").toString());
        assertEquals(0, r.code(), r::toString);
        List<String> warnings = r.err().lines().filter(l -> l.startsWith("ugm: warning: tensor")).toList();
        assertEquals(List.of("ugm: warning: tensor 'w' in " + m1 + ": 1 NaN and 0 infinite input values",
                "ugm: warning: tensor 'w' in " + m2 + ": 1 NaN and 1 infinite input values"), warnings);
    }
}
