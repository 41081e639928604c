package ugm.cli;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.ShardedWriter;

/** Small F32 checkpoints written for tests: name to values (1-D unless a shape is given). */
final class Checkpoints {
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    Checkpoints put(String name, float... v) {
        return put(name, new long[] {v.length}, v);
    }

    Checkpoints put(String name, long[] shape, float... v) {
        values.put(name, v);
        shapes.put(name, shape);
        return this;
    }

    Path write(Path dir) {
        List<TensorInfo> infos = new ArrayList<>();
        values.forEach((n, v) -> infos.add(new TensorInfo(n, DType.F32, shapes.get(n))));
        try (ShardedWriter w = ShardedWriter.create(dir, infos, Map.of("format", "pt"))) {
            for (TensorInfo t : infos) {
                MemorySegment s = w.target(t);
                float[] v = values.get(t.name());
                for (int i = 0; i < v.length; i++) {
                    s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v[i]);
                }
            }
            w.commit();
        }
        return dir;
    }
}
