package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorParameter;

/** ram and ramplus_tl against mergekit's ram_merge and ramplus_tl_merge written out in double. */
class RamTest {

    /**
     * mergekit's formula: {@code τ_i = x_i − base} in float32 (its tensors'), a change where
     * {@code |τ_i| > eps} (eps as float32, as torch compares), c the changes at an element;
     * {@code base + Σ_i τ_i·(c == 1 ? λ_i : 1/max(c, 1))} over the changes, {@code λ_i = 1} for ram and
     * {@code 1 + r·clamp(shared_i / max(unique_i, eps), 0, alpha)} for ramplus_tl, counted over the tensor.
     */
    static double[] reference(double[][] x, double[] base, float eps, boolean plus, double r, double alpha) {
        int m = x.length;
        int n = base.length;
        double[][] tau = new double[m][n];
        boolean[][] changed = new boolean[m][n];
        int[] c = new int[n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                tau[i][j] = (float) ((float) x[i][j] - (float) base[j]);
                changed[i][j] = Math.abs(tau[i][j]) > eps;
                c[j] += changed[i][j] ? 1 : 0;
            }
        }
        double[] lambda = new double[m];
        for (int i = 0; i < m; i++) {
            double shared = 0;
            double unique = 0;
            for (int j = 0; j < n; j++) {
                shared += changed[i][j] && c[j] > 1 ? 1 : 0;
                unique += changed[i][j] && c[j] == 1 ? 1 : 0;
            }
            lambda[i] = plus ? 1 + r * Math.min(Math.max(shared / Math.max(unique, eps), 0), alpha) : 1;
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double merged = 0;
            for (int i = 0; i < m; i++) {
                if (changed[i][j]) {
                    merged += c[j] == 1 ? tau[i][j] * lambda[i] : tau[i][j] / c[j];
                }
            }
            out[j] = (float) base[j] + merged;
        }
        return out;
    }

    static double[] merge(Method method, double[][] x, double[] base, UnaryOperator<MergeRequest.Builder> opts) {
        MergeRequest.Builder b = MergeRequest.builder(method).threads(2).chunkElements(64)
                .base(Inputs.tensor("base", new long[] {base.length}, base));
        for (int i = 0; i < x.length; i++) {
            b.model(Inputs.tensor("m" + i, new long[] {base.length}, x[i]));
        }
        return Inputs.merge(opts.apply(b).build(), base.length);
    }

    /** Within one float32 ulp of the expected value. */
    static void close(double[] expected, double[] got, String what) {
        assertEquals(expected.length, got.length);
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], got[j], Math.ulp((float) expected[j]), what + ", element " + j);
        }
    }

    /**
     * A base and m models (index m is the base), each element of each task vector drawn from: no
     * change; a change below, at, or just above epsilon (exactly, where the base is 0); or an
     * ordinary change. Rounded to float, as the engine reads them.
     */
    static double[][] family(long seed, int m, int n, float eps) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] x = new double[m + 1][n];
        for (int j = 0; j < n; j++) {
            x[m][j] = j % 5 == 0 ? 0 : (float) rnd.nextGaussian();
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double b = x[m][j];
                x[i][j] = (float) switch (rnd.nextInt(7)) {
                    case 0, 1 -> b;
                    case 2 -> b + (rnd.nextBoolean() ? 1 : -1) * eps * rnd.nextDouble(0.5, 0.999);
                    case 3 -> b == 0 ? (rnd.nextBoolean() ? eps : -eps) : b + eps * rnd.nextDouble(0.99, 1.01);
                    case 4 -> b == 0 ? Math.nextUp(eps) : b - eps * rnd.nextDouble(1.001, 2);
                    default -> b + 0.05 * rnd.nextGaussian();
                };
            }
        }
        return x;
    }

    static double[][] models(double[][] f) {
        return java.util.Arrays.copyOf(f, f.length - 1);
    }

    static UnaryOperator<MergeRequest.Builder> params(int m, float eps, float r, float alpha) {
        return b -> {
            float[] e = new float[m];
            java.util.Arrays.fill(e, eps);
            return b.epsilons(e).parameter(Parameter.R, TensorParameter.of(r)).parameter(Parameter.ALPHA, TensorParameter.of(alpha));
        };
    }

    @Test
    void followMergekitForOneToFiveModelsAndEverySize() {
        for (int m : new int[] {1, 2, 3, 5}) {
            for (int n : new int[] {1, 7, 63, 64, 65, 1031, 4097}) {
                for (float eps : new float[] {1e-5f, 1e-3f}) {
                    double[][] f = family(31L * m + n, m, n, eps);
                    double[][] x = models(f);
                    double[] base = f[m];
                    String what = m + " models, " + n + " elements, epsilon " + eps;
                    close(reference(x, base, eps, false, 0, 0), merge(Method.RAM, x, base, params(m, eps, 0.1f, 0.2f)), "ram, " + what);
                    close(reference(x, base, eps, true, 0.1, 0.2), merge(Method.RAMPLUS_TL, x, base, params(m, eps, 0.1f, 0.2f)),
                            "ramplus_tl, " + what);
                    close(reference(x, base, eps, true, 0.7, 3), merge(Method.RAMPLUS_TL, x, base, params(m, eps, 0.7f, 3f)),
                            "ramplus_tl (r 0.7, alpha 3), " + what);
                }
            }
        }
    }

    @Test
    void defaultsAreMergekitsAndWeightsAreNotRead() {
        double[][] f = family(7, 3, 1031, 1e-5f);
        double[][] x = models(f);
        double[] base = f[3];
        close(reference(x, base, 1e-5f, false, 0, 0), merge(Method.RAM, x, base, b -> b.weights(3f, 0f, -2f)), "ram");
        close(reference(x, base, 1e-5f, true, 0.1, 0.2), merge(Method.RAMPLUS_TL, x, base, b -> b.weights(3f, 0f, -2f)), "ramplus_tl");
        assertEquals(1e-5, Method.RAM.defaultValue(Parameter.EPSILON));
        assertEquals(0.15, Method.DELLA.defaultValue(Parameter.EPSILON), "della keeps its own");
    }

    /** Where exactly one model changes an element, that change as it is: the model's own value (ram), also in float32. */
    @Test
    void aChangeOneModelAloneMakesIsKept() {
        double[] base = {1, 2, 3, 4};
        double[][] x = {{1.5, 2, 3, 4.25}, {1, 2, 2, 4.75}};
        close(new double[] {1.5, 2, 2, 4.5}, merge(Method.RAM, x, base, b -> b), "ram");
    }

    /**
     * The ratio is the whole tensor's: model 0 changes the first half alone and the second half with
     * model 1, so ρ_0 = 1 over the tensor, while every chunk (64 elements) and, in the larger
     * tensor, the first pass's first block (4096) see only one kind.
     */
    @Test
    void ramplusRatiosAreCountedOverTheWholeTensor() {
        for (int n : new int[] {2000, 10000}) {
            double[] base = new double[n];
            double[][] x = new double[2][n];
            for (int j = 0; j < n; j++) {
                base[j] = (float) Math.sin(j);
                x[0][j] = (float) (base[j] + 0.25);
                x[1][j] = j < n / 2 ? base[j] : (float) (base[j] - 0.5);
            }
            double[] expected = reference(x, base, 1e-5f, true, 0.5, 10);
            assertEquals((float) base[0] + 0.25 * 1.5, expected[0], 1e-6, "λ_0 = 1 + 0.5·1");
            close(expected, merge(Method.RAMPLUS_TL, x, base, params(2, 1e-5f, 0.5f, 10f)), "ramplus_tl, " + n + " elements");
        }
    }

    /**
     * With epsilon 0 a model that changes nothing has ρ = 0/0, which makes mergekit's whole tensor
     * NaN; it has no change to scale, so ugm's result is the others' merge.
     */
    @Test
    void aModelWithoutChangesScalesNothing() {
        double[][] f = family(11, 2, 300, 0f);
        double[][] x = {f[0], f[1], f[2].clone()};
        double[] base = f[2];
        close(reference(models(f), base, 0f, true, 0.1, 0.2), merge(Method.RAMPLUS_TL, x, base, params(3, 0f, 0.1f, 0.2f)),
                "ramplus_tl with an unchanged model");
    }

    @Test
    void parametersOutOfRangeAreUsageErrorsOrPlanProblemsNamingTheTensor() {
        double[][] f = family(3, 2, 10, 1e-5f);
        UgmException negative = assertThrows(UgmException.class, () -> merge(Method.RAM, models(f), f[2], params(2, -1f, 0.1f, 0.2f)));
        assertEquals(UgmException.Kind.USAGE, negative.kind());
        assertEquals("ram's epsilon must be a finite number >= 0, not -1.0", negative.getMessage());
        UgmException differ = assertThrows(UgmException.class, () -> merge(Method.RAMPLUS_TL, models(f), f[2], b -> b.epsilons(1e-5f, 1e-4f)));
        assertTrue(differ.getMessage().startsWith("ramplus_tl's epsilon is one number for all models"), differ.getMessage());
        UgmException r = assertThrows(UgmException.class, () -> merge(Method.RAMPLUS_TL, models(f), f[2], params(2, 0, Float.NaN, 0.2f)));
        assertEquals("ramplus_tl's r must be a finite number, not NaN", r.getMessage());
        assertThrows(UgmException.class, () -> MergeRequest.builder(Method.RAM).model(Inputs.tensor("m", new long[] {1}, new double[1])).build(),
                "ram needs a base model");
        MergeRequest perTensor = MergeRequest.builder(Method.RAM).base(Inputs.tensor("base", new long[] {2}, new double[2]))
                .model(Inputs.tensor("m", new long[] {2}, new double[2])).epsilons(tensor -> tensor.equals("w") ? -2f : 1f).build();
        List<String> problems = MergePlan.of(perTensor).problems();
        assertEquals(List.of("tensor 'w': ram's epsilon must be a finite number >= 0, not -2.0"), problems);
    }
}
