package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.merge.methods.Method;

/**
 * The closed-form case of docs/method.md ("Why it works") through the demo's own pieces (model
 * folders on disk, the real engine): linear regression whose design matrices have orthogonal columns, so the diagonal
 * Hessians are exact. Gradient matching must land on the jointly trained model; task arithmetic
 * must not. Each row of a design matrix has one non-zero feature, which makes the columns orthogonal.
 */
class QuadraticCaseTest {
    private static final int D = 40;
    private static final int TASKS = 4;
    private static final Layout LAYOUT = new Layout(new Layout.Tensor("layer.weight", 4, 8), new Layout.Tensor("layer.bias", 8));

    @TempDir
    Path dir;

    /** Σ x_j² per column and Xᵀy of a one-hot-per-row design with {@code rows} rows over {@code columns}. */
    private record Normal(double[] h, double[] b) {
    }

    private static Normal regression(SplittableRandom r, int rows, int columns, double[] truth) {
        double[] h = new double[D];
        double[] b = new double[D];
        for (int i = 0; i < rows; i++) {
            int j = i < columns ? i : r.nextInt(columns); // every column gets at least one row
            double x = 0.5 + r.nextDouble();
            double y = x * truth[j] + 0.3 * r.nextGaussian();
            h[j] += x * x;
            b[j] += x * y;
        }
        return new Normal(h, b);
    }

    @Test
    void gradientMatchingRecoversTheJointModelAndTaskArithmeticDoesNot() {
        SplittableRandom r = new SplittableRandom(11);
        double[] truth0 = new double[D];
        for (int j = 0; j < D; j++) {
            truth0[j] = r.nextGaussian();
        }
        Normal base = regression(r, 400, D, truth0);
        double[] theta0 = new double[D];
        double[] jointNum = new double[D];
        double[] jointDen = new double[D];
        for (int j = 0; j < D; j++) {
            theta0[j] = base.b[j] / base.h[j]; // argmin ½‖y0 − X0θ‖²
            jointNum[j] = base.h[j] * theta0[j];
            jointDen[j] = base.h[j];
        }
        Path baseDir = dir.resolve("base");
        Checkpoints.write(Checkpoints.model(baseDir), LAYOUT, theta0, "base");
        Checkpoints.write(Checkpoints.fisher(baseDir, Checkpoints.HESSIAN), LAYOUT, base.h, "H0");
        List<Path> tasks = new ArrayList<>();
        for (int t = 0; t < TASKS; t++) {
            double[] truth = new double[D];
            for (int j = 0; j < D; j++) {
                truth[j] = truth0[j] + (1 + t) * r.nextGaussian(); // conflicting tasks
            }
            // Tasks see only part of the features, with few rows: their Hessians differ a lot.
            Normal task = regression(r, 30 + 20 * t, D / 2 + 5 * t, truth);
            double[] theta = new double[D];
            for (int j = 0; j < D; j++) {
                // argmin ½‖yt − Xtθ‖² + ½(θ−θ0)ᵀH0(θ−θ0)
                theta[j] = (task.b[j] + base.h[j] * theta0[j]) / (task.h[j] + base.h[j]);
                jointNum[j] += task.b[j];
                jointDen[j] += task.h[j];
            }
            Path taskDir = dir.resolve("task-" + (t + 1));
            Checkpoints.write(Checkpoints.model(taskDir), LAYOUT, theta, "task");
            Checkpoints.write(Checkpoints.fisher(taskDir, Checkpoints.HESSIAN), LAYOUT, task.h, "Ht");
            tasks.add(taskDir);
        }
        double[] joint = new double[D];
        double scale = 0;
        for (int j = 0; j < D; j++) {
            joint[j] = jointNum[j] / jointDen[j];
            scale = Math.max(scale, Math.abs(joint[j]));
        }
        float[] ones = {1, 1, 1, 1};
        EngineMerge merge = new EngineMerge(baseDir, tasks, Checkpoints.HESSIAN, ones, 1f, 0f, ugm.core.exec.ChunkExecutor.defaults());
        Path gmFile = Checkpoints.model(dir.resolve("gm"));
        Path taFile = Checkpoints.model(dir.resolve("ta"));
        merge.run(Method.GRADIENT_MATCHING, 1f, false, gmFile);
        merge.run(Method.TASK_ARITHMETIC, 1f, false, taFile);
        double gm = maxDiff(Checkpoints.read(gmFile, LAYOUT), joint);
        double ta = maxDiff(Checkpoints.read(taFile, LAYOUT), joint);
        assertTrue(gm <= 1e-5 * scale, "gradient matching is off the joint model by " + gm + " (scale " + scale + ")");
        assertTrue(ta > 1e-2 * scale, "task arithmetic should miss the joint model, off by only " + ta);
    }

    private static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int j = 0; j < a.length; j++) {
            m = Math.max(m, Math.abs(a[j] - b[j]));
        }
        return m;
    }
}
