package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static ugm.core.merge.Numerics.merge;
import static ugm.core.merge.Numerics.tensor;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.MergeReport.Undefined;
import ugm.core.merge.methods.Method;

/** model_stock where the task vectors cancel out: t is undefined; the rows keep the base, and the report says so. */
class ModelStockCancelTest {
    @Test
    void modelStockKeepsTheBaseWhereTheTaskVectorsCancelAndSaysSo() {
        int rows = 6;
        int cols = 50;
        double[] b = new double[rows * cols];
        double[] x1 = new double[b.length];
        double[] x2 = new double[b.length];
        Random r = new Random(4);
        for (int i = 0; i < b.length; i++) {
            b[i] = Math.round(r.nextGaussian() * 64) / 64.0; // dyadic: every difference below is exact in float
            double d = Math.round(r.nextGaussian() * 64) / 1024.0;
            boolean opposite = i / cols % 2 == 0; // rows 0, 2, 4: exactly opposite task vectors
            x1[i] = b[i] + d;
            x2[i] = opposite ? b[i] - d : b[i] + Math.round(r.nextGaussian() * 64) / 1024.0;
        }
        MemoryTensors base = new MemoryTensors("base").add("w", DType.F32, new long[] {rows, cols}, Tensors.encode(DType.F32, b));
        MemoryTensors m1 = new MemoryTensors("m1").add("w", DType.F32, new long[] {rows, cols}, Tensors.encode(DType.F32, x1));
        MemoryTensors m2 = new MemoryTensors("m2").add("w", DType.F32, new long[] {rows, cols}, Tensors.encode(DType.F32, x2));

        MergeReport[] report = new MergeReport[1];
        double[] got = Tensors.decode(DType.F32, merge(MergeRequest.builder(Method.MODEL_STOCK).base(base).model(m1).model(m2)
                .filterWise(true).build(), report).get("w"));
        assertEquals(List.of(new Undefined("w", "model_stock's t is undefined in 3 of 6 rows: the task vectors cancel out"
                + " (1 + (N − 1)·cos = 0 for N = 2, so t = N·cos / (1 + (N − 1)·cos) is undefined); those rows keep the base's values")),
                report[0].nonFinite());
        for (int row = 0; row < rows; row++) {
            double[] want = new double[cols];
            if (row % 2 == 0) {
                System.arraycopy(b, row * cols, want, 0, cols);
            } else {
                want = modelStockRow(b, new double[][] {x1, x2}, row * cols, cols);
            }
            for (int j = 0; j < cols; j++) {
                assertEquals(want[j], got[row * cols + j], 1e-6 * Math.abs(want[j]) + 1e-7, "row " + row + " element " + j);
            }
        }
        // over the whole tensor the vectors do not cancel; restricted to the opposite rows, they do
        MemoryTensors ob = tensor("base", "w", DType.F32, java.util.Arrays.copyOfRange(b, 0, cols));
        MemoryTensors o1 = tensor("m1", "w", DType.F32, java.util.Arrays.copyOfRange(x1, 0, cols));
        MemoryTensors o2 = tensor("m2", "w", DType.F32, java.util.Arrays.copyOfRange(x2, 0, cols));
        double[] whole = Tensors.decode(DType.F32, merge(MergeRequest.builder(Method.MODEL_STOCK).base(ob).model(o1).model(o2).build(),
                report).get("w"));
        assertArrayEquals(Tensors.stored(DType.F32, java.util.Arrays.copyOfRange(b, 0, cols)), whole);
        assertEquals("tensor 'w': model_stock's t is undefined: the task vectors cancel out (1 + (N − 1)·cos = 0 for N = 2, so"
                + " t = N·cos / (1 + (N − 1)·cos) is undefined); the tensor keeps the base's values", report[0].nonFinite().get(0).toString());
    }

    /** model_stock's t and result for one row, in double. */
    static double[] modelStockRow(double[] b, double[][] x, int start, int cols) {
        int m = x.length;
        double cos = 0;
        for (int i = 0; i < m; i++) {
            for (int k = i + 1; k < m; k++) {
                double dot = 0;
                double ni = 0;
                double nk = 0;
                for (int j = start; j < start + cols; j++) {
                    double di = (double) (float) x[i][j] - (float) b[j];
                    double dk = (double) (float) x[k][j] - (float) b[j];
                    dot += di * dk;
                    ni += di * di;
                    nk += dk * dk;
                }
                cos += dot / Math.max(Math.sqrt(ni) * Math.sqrt(nk), 1e-6);
            }
        }
        cos /= m * (m - 1) / 2.0;
        double t = m * cos / (1 + (m - 1) * cos);
        double[] out = new double[cols];
        for (int j = 0; j < cols; j++) {
            double mean = 0;
            for (double[] xi : x) {
                mean += (float) xi[start + j];
            }
            out[j] = t * mean / m + (1 - t) * (float) b[start + j];
        }
        return out;
    }
}
