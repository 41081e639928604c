package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The task-vector family's element pass ({@link Kernels#taskVectors}): the scalar twin against a
 * definition written here element by element (the documented rule, with its branches), and every
 * vector width against the scalar twin, on sizes that hit every tail, with and without masks,
 * signs elected or not, normalised or not, and values that are NaN, infinite, or large enough
 * that Δ overflows the float (the lanes hand such a group to the formula).
 */
class TaskVectorsKernelTest {

    static java.util.List<Kernels> vectors() {
        return Implementations.vectors();
    }

    /** One merge's inputs: base, models, masks (some null), and the parameters. */
    private record Case(float[] base, float[][] x, boolean[][] kept, TaskVectors p) {
    }

    private static Case random(SplittableRandom rnd, int models, int n, boolean consensus, boolean normalize, boolean special) {
        int length = n + TwinTest.SLACK;
        float[] base = new float[length];
        float[][] x = new float[models][length];
        boolean[][] kept = new boolean[models][];
        for (int j = 0; j < length; j++) {
            base[j] = value(rnd, special);
            for (int t = 0; t < models; t++) {
                // a model near the base most of the time, as fine-tunes are: the signs then disagree often
                x[t][j] = rnd.nextInt(8) == 0 ? value(rnd, special) : base[j] + (float) (rnd.nextGaussian() * 0.01);
            }
        }
        for (int t = 0; t < models; t++) {
            if (rnd.nextInt(3) > 0) {
                kept[t] = new boolean[length];
                for (int j = 0; j < length; j++) {
                    kept[t][j] = rnd.nextBoolean();
                }
            }
        }
        float[] weights = new float[models];
        double[] factors = new double[models];
        for (int t = 0; t < models; t++) {
            weights[t] = switch (rnd.nextInt(5)) {
                case 0 -> -0.5f;
                case 1 -> 1f;
                default -> (float) rnd.nextDouble(0.1, 1.5);
            };
            factors[t] = rnd.nextBoolean() ? 1 : rnd.nextDouble(1, 3);
        }
        if (models > 1 && rnd.nextInt(4) == 0) {
            weights[1] = -weights[0]; // weights that sum to 0: the tiny-divisor rule
            factors[1] = factors[0];
            for (int j = 0; j < length; j += 2) {
                x[1][j] = x[0][j]; // and vectors that cancel exactly: Σ w = 0 elects the positive sign
            }
        }
        return new Case(base, x, kept, new TaskVectors(weights, factors, consensus, normalize, rnd.nextBoolean() ? 1 : 1.5));
    }

    private static float value(SplittableRandom rnd, boolean special) {
        if (special && rnd.nextInt(10) == 0) {
            return switch (rnd.nextInt(4)) {
                case 0 -> Float.NaN;
                case 1 -> rnd.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                case 2 -> (rnd.nextBoolean() ? 1 : -1) * Float.MAX_VALUE * (float) rnd.nextDouble(0.6, 1); // Δ overflows
                default -> FloatPatterns.interesting(rnd);
            };
        }
        return (float) rnd.nextGaussian();
    }

    /** The rule as docs/mergekit-methods.md states it, one element at a time, in double. */
    private static float definition(Case c, int j) {
        TaskVectors p = c.p();
        int models = c.x().length;
        float b = c.base()[j];
        double[] w = new double[models];
        double sum = 0;
        for (int t = 0; t < models; t++) {
            float x = c.x()[t][j];
            float d = x - b;
            double delta = Float.isInfinite(d) && Float.isFinite(x) && Float.isFinite(b) ? (double) x - b : d;
            boolean survives = c.kept()[t] == null || c.kept()[t][j];
            w[t] = survives ? p.weights()[t] * (delta * p.factors()[t]) : 0;
            sum += w[t];
        }
        double elected = sum >= 0 ? 1 : -1;
        double mixed = 0;
        double div = 0;
        for (int t = 0; t < models; t++) {
            if (!p.consensus() || Math.signum(w[t]) == elected) {
                mixed += w[t];
                div += p.weights()[t];
            }
        }
        if (p.normalize()) {
            boolean tiny = p.consensus() ? div == 0 : Math.abs(div) < 1e-8;
            if (!tiny) {
                mixed /= div;
            }
        }
        return (float) (b + p.lambda() * mixed);
    }

    @Test
    void theScalarTwinIsTheDefinition() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int models = 1; models <= 4; models++) {
            for (int flags = 0; flags < 4; flags++) {
                for (boolean special : new boolean[] {false, true}) {
                    int n = 4097;
                    Case c = random(rnd, models, n, (flags & 1) != 0, (flags & 2) != 0, special);
                    float[] expected = TwinTest.defined(n, j -> definition(c, j));
                    float[] actual = TwinTest.filled(n + TwinTest.SLACK);
                    Kernels.scalar().taskVectors(c.p(), c.base(), c.x(), c.kept(), actual, n);
                    TwinTest.assertSameFloats(expected, actual, "scalar, " + models + " models, flags " + flags);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void everyWidthMatchesTheScalarTwinOnEveryTail(Kernels v) {
        SplittableRandom rnd = new SplittableRandom(6);
        for (int models = 1; models <= 4; models++) {
            for (int flags = 0; flags < 4; flags++) {
                for (int n : TwinTest.SIZES) {
                    for (boolean special : new boolean[] {false, true}) {
                        Case c = random(rnd, models, n, (flags & 1) != 0, (flags & 2) != 0, special);
                        float[] expected = TwinTest.filled(n + TwinTest.SLACK);
                        float[] actual = TwinTest.filled(n + TwinTest.SLACK);
                        TwinTest.SCALAR.taskVectors(c.p(), c.base(), c.x(), c.kept(), expected, n);
                        v.taskVectors(c.p(), c.base(), c.x(), c.kept(), actual, n);
                        String what = v.name() + ", " + models + " models, flags " + flags + ", n=" + n + (special ? ", special" : "");
                        TwinTest.assertSameFloats(expected, actual, what);
                        TwinTest.assertSlackUntouched(actual, n);
                    }
                }
            }
        }
    }

    @Test
    void aMaskShorterThanTheBlockIsRefused() {
        TaskVectors p = new TaskVectors(new float[] {1f}, new double[] {1}, true, true, 1);
        float[] a = new float[8];
        assertThrows(IndexOutOfBoundsException.class,
                () -> Kernels.scalar().taskVectors(p, a, new float[][] {a}, new boolean[][] {new boolean[4]}, new float[8], 8));
        assertThrows(IllegalArgumentException.class,
                () -> Kernels.scalar().taskVectors(p, a, new float[][] {a}, new boolean[0][], new float[8], 8));
    }
}
