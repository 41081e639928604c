package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every method of every implementation against {@link DoubleReference}: random merges with
 * T = 1..5 models, Fishers spanning 14 orders of magnitude with exact zeros, elements where every
 * Fisher is 0. The float result must lie within 1e-5 of the magnitude of the summed terms.
 */
class ReferenceTest {
    static final double TOLERANCE = 1e-5;
    static final int N = 1_003;

    static List<Kernels> implementations() {
        return Implementations.all();
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void linearMatchesDoubleReference(Kernels k) {
        DoubleReference ref = new DoubleReference();
        for (int models = 1; models <= 5; models++) {
            MethodData d = MethodData.random(new SplittableRandom(100 + models), models, N, true, false);
            float[] out = new float[N];
            k.linear(d.x, d.signedWeights, out, N);
            for (int i = 0; i < N; i++) {
                double expected = ref.linear(d.x, d.signedWeights, i);
                check(k, "linear T=" + models, i, expected, ref.scale, out[i]);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void taskArithmeticMatchesDoubleReference(Kernels k) {
        DoubleReference ref = new DoubleReference();
        for (int models = 1; models <= 5; models++) {
            MethodData d = MethodData.random(new SplittableRandom(200 + models), models, N, true, false);
            float[] out = new float[N];
            k.taskArithmetic(d.base, d.x, d.signedWeights, out, N);
            for (int i = 0; i < N; i++) {
                double expected = ref.taskArithmetic(d.base, d.x, d.signedWeights, i);
                check(k, "task arithmetic T=" + models, i, expected, ref.scale, out[i]);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void gradientMatchingMatchesDoubleReference(Kernels k) {
        DoubleReference ref = new DoubleReference();
        int totalReplaced = 0;
        for (int models = 1; models <= 5; models++) {
            for (boolean remove : new boolean[] {false, true}) {
                for (boolean withBaseFisher : new boolean[] {false, true}) {
                    for (float delta0 : new float[] {0f, 1e-12f, 1e-3f, 2f}) {
                        MethodData d = MethodData.random(new SplittableRandom(300 + models), models, N, true, false);
                        GradientMatching p = new GradientMatching(d.alphas, d.scales, 25_000f, delta0, remove, 0.1f);
                        float[] h0 = withBaseFisher ? d.baseFisher : null;
                        float[] out = new float[N];
                        long replaced = k.gradientMatching(p, d.base, h0, d.x, d.fisher, out, N);
                        String what = "gradient matching T=" + models + " remove=" + remove + " H0=" + withBaseFisher
                                + " delta0=" + delta0;
                        long expectedReplaced = 0;
                        long borderline = 0;
                        for (int i = 0; i < N; i++) {
                            double expected = ref.gradientMatching(p, d.base, h0, d.x, d.fisher, i);
                            check(k, what, i, expected, ref.scale, out[i]);
                            expectedReplaced += ref.replaced ? 1 : 0;
                            borderline += ref.clampMargin < 1e-5 ? 1 : 0;
                        }
                        if (Math.abs(replaced - expectedReplaced) > borderline) {
                            fail(k.name() + " " + what + ": replaced " + replaced + " elements, expected " + expectedReplaced);
                        }
                        if (!remove) {
                            assertTrue(replaced == 0, "nothing is clamped when adding");
                        }
                        totalReplaced += (int) replaced;
                    }
                }
            }
        }
        assertTrue(totalReplaced > 1000, "the data exercise the removal clamp");
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void fisherMatchesDoubleReference(Kernels k) {
        DoubleReference ref = new DoubleReference();
        for (int models = 1; models <= 5; models++) {
            for (float floor : new float[] {0f, 1e-8f, 1e-2f}) {
                MethodData d = MethodData.random(new SplittableRandom(400 + models), models, N, true, false);
                float[] out = new float[N];
                k.fisher(d.x, d.fisher, d.alphas, d.scales, floor, out, N);
                for (int i = 0; i < N; i++) {
                    double expected = ref.fisher(d.x, d.fisher, d.alphas, d.scales, floor, i);
                    check(k, "fisher T=" + models + " floor=" + floor, i, expected, ref.scale, out[i]);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void fisherWithBaseMatchesDoubleReference(Kernels k) {
        DoubleReference ref = new DoubleReference();
        for (int models = 1; models <= 5; models++) {
            for (float floor : new float[] {0f, 1e-8f, 1e-2f}) {
                for (boolean withBaseFisher : new boolean[] {false, true}) {
                    MethodData d = MethodData.random(new SplittableRandom(500 + models), models, N, true, false);
                    float[] h0 = withBaseFisher ? d.baseFisher : null;
                    float[] out = new float[N];
                    k.fisherWithBase(d.base, h0, 25_000f, d.x, d.fisher, d.alphas, d.scales, floor, out, N);
                    for (int i = 0; i < N; i++) {
                        double expected = ref.fisherWithBase(d.base, h0, 25_000f, d.x, d.fisher, d.alphas, d.scales, floor, i);
                        check(k, "fisher with base T=" + models + " floor=" + floor + " H0=" + withBaseFisher, i, expected,
                                ref.scale, out[i]);
                    }
                }
            }
        }
    }

    static void check(Kernels k, String what, int i, double expected, double scale, float actual) {
        if (Double.isNaN(expected) || Float.isNaN(actual) || !(Math.abs(actual - expected) <= TOLERANCE * scale + 1e-30)) {
            fail(k.name() + " " + what + ": element " + i + " is " + actual + ", expected " + expected + " (term magnitude "
                    + scale + ")");
        }
    }
}
