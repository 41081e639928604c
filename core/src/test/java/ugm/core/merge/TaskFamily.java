package ugm.core.merge;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.methods.Method;

/**
 * A base and T models for the task-vector method tests: per shape, base values ~ N(0, 1) and
 * models at base + N(0, 0.05^2), with the stored (rounded) values kept as doubles for the
 * double-precision twins. Tensors are named by {@link #name}.
 */
record TaskFamily(MemoryTensors base, MemoryTensors[] models, Map<String, double[]> b, Map<String, double[][]> x) {

    static TaskFamily of(long seed, int t, DType type, long[][] shapes) {
        Random r = new Random(seed);
        MemoryTensors base = new MemoryTensors("base");
        MemoryTensors[] models = new MemoryTensors[t];
        Map<String, double[]> b = new HashMap<>();
        Map<String, double[][]> x = new HashMap<>();
        for (int i = 0; i < t; i++) {
            models[i] = new MemoryTensors("m" + i);
        }
        for (long[] shape : shapes) {
            String name = name(shape);
            int n = (int) Arrays.stream(shape).reduce(1, (p, q) -> p * q);
            double[] bv = new double[n];
            for (int j = 0; j < n; j++) {
                bv[j] = r.nextGaussian();
            }
            b.put(name, Tensors.stored(type, bv));
            base.add(name, type, shape, Tensors.encode(type, bv));
            double[][] xv = new double[t][n];
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < n; j++) {
                    xv[i][j] = bv[j] + r.nextGaussian() * 0.05;
                }
                xv[i] = Tensors.stored(type, xv[i]);
                models[i].add(name, type, shape, Tensors.encode(type, xv[i]));
            }
            x.put(name, xv);
        }
        return new TaskFamily(base, models, b, x);
    }

    /** "t7" for [7], "t3x301" for [3, 301]. */
    static String name(long[] shape) {
        return "t" + Arrays.toString(shape).replaceAll("[^0-9,]", "").replace(',', 'x');
    }

    MergeRequest.Builder request(Method m) {
        MergeRequest.Builder r = MergeRequest.builder(m).base(base).chunkElements(64).threads(2);
        Arrays.stream(models).forEach(r::model);
        return r;
    }
}
