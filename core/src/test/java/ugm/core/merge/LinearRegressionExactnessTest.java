package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.methods.Method;

/**
 * docs/method.md, "Why it works": for linear regression whose design matrices have orthogonal columns,
 * gradient matching with the exact diagonal Hessians reproduces the jointly trained model, while
 * task arithmetic and Fisher averaging do not. This proves the formula, not just the code.
 */
class LinearRegressionExactnessTest {
    private static final int D = 37;
    private static final int ROWS = 60;
    private static final int TASKS = 4;

    /** A ROWS x D matrix whose columns are orthogonal with random lengths (Gram-Schmidt on noise). */
    private static double[][] orthogonalColumns(Random r) {
        double[][] x = new double[ROWS][D];
        for (double[] row : x) {
            for (int j = 0; j < D; j++) {
                row[j] = r.nextGaussian();
            }
        }
        for (int j = 0; j < D; j++) {
            for (int k = 0; k < j; k++) {
                double dot = 0;
                double nk = 0;
                for (double[] row : x) {
                    dot += row[j] * row[k];
                    nk += row[k] * row[k];
                }
                for (double[] row : x) {
                    row[j] -= dot / nk * row[k];
                }
            }
            double len = 0;
            for (double[] row : x) {
                len += row[j] * row[j];
            }
            double target = 0.5 + 3 * r.nextDouble();
            for (double[] row : x) {
                row[j] *= target / Math.sqrt(len);
            }
        }
        return x;
    }

    private static double[] diagXtX(double[][] x) {
        double[] h = new double[D];
        for (double[] row : x) {
            for (int j = 0; j < D; j++) {
                h[j] += row[j] * row[j];
            }
        }
        return h;
    }

    private static double[] xty(double[][] x, double[] y) {
        double[] v = new double[D];
        for (int i = 0; i < ROWS; i++) {
            for (int j = 0; j < D; j++) {
                v[j] += x[i][j] * y[i];
            }
        }
        return v;
    }

    private static double[] targets(Random r, double[][] x, double[] truth) {
        double[] y = new double[ROWS];
        for (int i = 0; i < ROWS; i++) {
            for (int j = 0; j < D; j++) {
                y[i] += x[i][j] * truth[j];
            }
            y[i] += 0.3 * r.nextGaussian();
        }
        return y;
    }

    private static double maxDiff(MemorySegment got, double[] want) {
        double[] g = Tensors.decode(DType.F64, got);
        double m = 0;
        for (int j = 0; j < D; j++) {
            m = Math.max(m, Math.abs(g[j] - want[j]));
        }
        return m;
    }

    @Test
    void gradientMatchingRecoversTheJointModelAndTheOthersDoNot() {
        Random r = new Random(2024);
        double[] truth0 = new double[D];
        for (int j = 0; j < D; j++) {
            truth0[j] = r.nextGaussian();
        }
        double[][] x0 = orthogonalColumns(r);
        double[] h0 = diagXtX(x0);
        double[] b0 = xty(x0, targets(r, x0, truth0));
        double[] theta0 = new double[D];
        for (int j = 0; j < D; j++) {
            theta0[j] = b0[j] / h0[j]; // argmin ½‖y0 − X0θ‖²
        }
        double[] alpha = {1.0, 0.5, 0.8, 1.2};
        double[] jointNum = new double[D];
        double[] jointDen = new double[D];
        for (int j = 0; j < D; j++) {
            jointNum[j] = h0[j] * theta0[j];
            jointDen[j] = h0[j];
        }
        MemoryTensors base = new MemoryTensors("base").add("w", DType.F64, new long[] {D}, Tensors.encode(DType.F64, theta0));
        MemoryTensors baseFisher = new MemoryTensors("base-fisher").add("w", DType.F64, new long[] {D}, Tensors.encode(DType.F64, h0));
        MemoryTensors[] models = new MemoryTensors[TASKS];
        MemoryTensors[] fishers = new MemoryTensors[TASKS];
        for (int t = 0; t < TASKS; t++) {
            double[] truth = new double[D];
            for (int j = 0; j < D; j++) {
                truth[j] = truth0[j] + (t + 1) * 0.7 * r.nextGaussian(); // tasks that conflict
            }
            double[][] xt = orthogonalColumns(r);
            double[] ht = diagXtX(xt);
            double[] bt = xty(xt, targets(r, xt, truth));
            double[] thetaT = new double[D];
            for (int j = 0; j < D; j++) {
                // argmin ½‖yt − Xtθ‖² + ½(θ−θ0)ᵀH0(θ−θ0)
                thetaT[j] = (bt[j] + h0[j] * theta0[j]) / (ht[j] + h0[j]);
                jointNum[j] += alpha[t] * bt[j];
                jointDen[j] += alpha[t] * ht[j];
            }
            models[t] = new MemoryTensors("task-" + t).add("w", DType.F64, new long[] {D}, Tensors.encode(DType.F64, thetaT));
            fishers[t] = new MemoryTensors("fisher-" + t).add("w", DType.F64, new long[] {D}, Tensors.encode(DType.F64, ht));
        }
        double[] joint = new double[D];
        double scale = 0;
        for (int j = 0; j < D; j++) {
            joint[j] = jointNum[j] / jointDen[j]; // argmin ½(θ−θ0)ᵀH0(θ−θ0) + Σ αt ½‖yt − Xtθ‖²
            scale = Math.max(scale, Math.abs(joint[j]));
        }
        float[] w = new float[TASKS];
        for (int t = 0; t < TASKS; t++) {
            w[t] = (float) alpha[t];
        }
        double gm = maxDiff(merge(Method.GRADIENT_MATCHING, base, baseFisher, models, fishers, w), joint);
        double ta = maxDiff(merge(Method.TASK_ARITHMETIC, base, baseFisher, models, fishers, w), joint);
        double fa = maxDiff(merge(Method.FISHER, base, baseFisher, models, fishers, w), joint);
        double fab = maxDiff(merge(Method.FISHER_WITH_BASE, base, baseFisher, models, fishers, w), joint);
        // Float32 arithmetic: a few float ulps of the largest value.
        assertTrue(gm <= 1e-5 * scale, "gradient matching is off the joint model by " + gm);
        for (double other : new double[] {ta, fa, fab}) {
            assertTrue(other > 1e-2 * scale && other > 1000 * gm,
                    "task arithmetic / Fisher averaging should miss the joint model: " + ta + ", " + fa + ", " + fab + " vs " + gm);
        }
    }

    private static MemorySegment merge(Method m, MemoryTensors base, MemoryTensors baseFisher, MemoryTensors[] models,
                                       MemoryTensors[] fishers, float[] w) {
        MergeRequest.Builder b = MergeRequest.builder(m).base(base).weights(w).outDtype(DType.F64);
        for (int t = 0; t < models.length; t++) {
            b.model(models[t]);
            if (m.needsFishers()) {
                b.fisher(fishers[t]);
            }
        }
        if (m.needsFishers()) {
            b.baseFisher(baseFisher);
        }
        MemorySegment out = Arena.ofAuto().allocate(8L * D);
        Merger.merge(b.build(), t -> out);
        return out;
    }
}
