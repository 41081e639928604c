package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.methods.Method;

/** model_stock with filter_wise: one t per row, against a double twin; a 1-D tensor is one row. */
class ModelStockFilterWiseTest {
    private static final long[][] SHAPES = {{7}, {5, 9}, {3, 4099}, {13, 333}, {2, 3, 5}};

    /** The twin: t per row of length cols from the pairwise cosines of the rows' task vectors, in double. */
    private static double[] twin(double[] b, double[][] x, int cols) {
        int m = x.length;
        double[] out = new double[b.length];
        for (int start = 0; start < b.length; start += cols) {
            double cos = 0;
            for (int i = 0; i < m; i++) {
                for (int k = i + 1; k < m; k++) {
                    double dot = 0;
                    double ni = 0;
                    double nk = 0;
                    for (int j = start; j < start + cols; j++) {
                        double di = x[i][j] - b[j];
                        double dk = x[k][j] - b[j];
                        dot += di * dk;
                        ni += di * di;
                        nk += dk * dk;
                    }
                    cos += dot / Math.max(Math.sqrt(ni) * Math.sqrt(nk), 1e-6);
                }
            }
            cos /= m * (m - 1) / 2.0;
            double t = m * cos / (1 + (m - 1) * cos);
            for (int j = start; j < start + cols; j++) {
                double mean = 0;
                for (double[] xi : x) {
                    mean += xi[j];
                }
                out[j] = t * mean / m + (1 - t) * b[j];
            }
        }
        return out;
    }

    @Test
    void perRowMatchesTwinAndDiffersFromWholeTensor() {
        Random r = new Random(12);
        int m = 3;
        MemoryTensors base = new MemoryTensors("base");
        MemoryTensors[] models = {new MemoryTensors("a"), new MemoryTensors("b"), new MemoryTensors("c")};
        double[][] bs = new double[SHAPES.length][];
        double[][][] xs = new double[SHAPES.length][m][];
        for (int s = 0; s < SHAPES.length; s++) {
            int n = 1;
            for (long d : SHAPES[s]) {
                n *= (int) d;
            }
            int cols = (int) SHAPES[s][SHAPES[s].length - 1];
            bs[s] = new double[n];
            for (int j = 0; j < n; j++) {
                bs[s][j] = (float) r.nextGaussian();
            }
            base.add("t" + s, DType.F32, SHAPES[s], Tensors.encode(DType.F32, bs[s]));
            for (int i = 0; i < m; i++) {
                xs[s][i] = new double[n];
                for (int j = 0; j < n; j++) {
                    // rows differ in how much the models agree, so per-row t differ
                    double shared = Math.sin(j) * 0.1;
                    double own = r.nextGaussian() * 0.02 * (1 + (j / cols) % 4);
                    xs[s][i][j] = (float) (bs[s][j] + shared + own);
                }
                models[i].add("t" + s, DType.F32, SHAPES[s], Tensors.encode(DType.F32, xs[s][i]));
            }
        }
        MergeRequest.Builder rows = MergeRequest.builder(Method.MODEL_STOCK).base(base).filterWise(true).chunkElements(64).threads(2);
        MergeRequest.Builder whole = MergeRequest.builder(Method.MODEL_STOCK).base(base).chunkElements(64).threads(2);
        for (MemoryTensors x : models) {
            rows.model(x);
            whole.model(x);
        }
        Map<String, MemorySegment> got = MergerTest.run(rows.build(), null);
        Map<String, MemorySegment> all = MergerTest.run(whole.build(), null);
        for (int s = 0; s < SHAPES.length; s++) {
            int cols = (int) SHAPES[s][SHAPES[s].length - 1];
            double[] e = twin(bs[s], xs[s], cols);
            double[] g = Tensors.decode(DType.F32, got.get("t" + s));
            for (int j = 0; j < e.length; j++) {
                assertEquals(e[j], g[j], 1e-6 * Math.max(1, Math.abs(e[j])), "t" + s + "[" + j + "]");
            }
            boolean oneRow = SHAPES[s].length == 1;
            assertEquals(oneRow, got.get("t" + s).mismatch(all.get("t" + s)) == -1,
                    "a 1-D tensor is one row; 2-D and 3-D tensors get one t per row: t" + s);
        }
        assertTrue(got.get("t3").mismatch(all.get("t3")) >= 0);
    }
}
