package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.methods.Method;

/**
 * A request built in the library gets the defaults the command line gets: each method's own
 * {@code normalize} and {@code rescale} (mergekit's), and {@code normalize} on task_arithmetic
 * divides the weights by their sum. Expected values are worked out by hand in double precision.
 */
class MethodDefaultsTest {
    static final double[] BASE = {1, -2, 0.5};
    static final double[][] MODELS = {{2, -1, 0.5}, {1, 0, -1.5}};

    private static double[] merge(Method m, UnaryOperator<MergeRequest.Builder> opts) {
        MemoryTensors b = new MemoryTensors("base");
        Tensors.add(b, "w", DType.F32, BASE);
        MergeRequest.Builder r = MergeRequest.builder(m).base(b).threads(1).weights(1f, 3f);
        for (int i = 0; i < MODELS.length; i++) {
            MemoryTensors x = new MemoryTensors("m" + i);
            Tensors.add(x, "w", DType.F32, MODELS[i]);
            r.model(x);
        }
        return Tensors.decode(DType.F32, MergerTest.run(opts.apply(r).build(), null).get("w"));
    }

    /** θ0 + λ·Σ w_t (θ_t − θ0) / div. */
    private static double[] expected(double lambda, double div) {
        double[] w = {1, 3};
        double[] e = new double[BASE.length];
        for (int j = 0; j < e.length; j++) {
            double sum = 0;
            for (int t = 0; t < MODELS.length; t++) {
                sum += w[t] * (MODELS[t][j] - BASE[j]);
            }
            e[j] = BASE[j] + lambda * sum / div;
        }
        return e;
    }

    private static void assertClose(double[] expected, double[] got) {
        for (int j = 0; j < got.length; j++) {
            assertEquals(expected[j], got[j], 1e-6, "element " + j);
        }
    }

    @Test
    void dareLinearDoesNotDivideUnlessAsked() {
        // density 1 keeps every element: dare_linear is then task arithmetic, divided only with normalize
        assertClose(expected(0.5, 1), merge(Method.DARE_LINEAR, r -> r.lambda(0.5f)));
        assertClose(expected(0.5, 4), merge(Method.DARE_LINEAR, r -> r.lambda(0.5f).normalize(true)));
    }

    @Test
    void tiesDividesByDefault() {
        // all signs agree element by element here, so sign election keeps both models
        double[] got = merge(Method.TIES, r -> r);
        double[] base = BASE;
        for (int j = 0; j < got.length; j++) {
            double d0 = MODELS[0][j] - base[j];
            double d1 = MODELS[1][j] - base[j];
            double sum = d0 + 3 * d1;
            double agreeing = (d0 == 0 ? 0 : Math.signum(d0) == Math.signum(sum) ? d0 : 0)
                    + (d1 == 0 ? 0 : Math.signum(d1) == Math.signum(sum) ? 3 * d1 : 0);
            double div = (d0 != 0 && Math.signum(d0) == Math.signum(sum) ? 1 : 0) + (d1 != 0 && Math.signum(d1) == Math.signum(sum) ? 3 : 0);
            assertEquals(base[j] + agreeing / (div == 0 ? 1 : div), got[j], 1e-6, "element " + j);
        }
    }

    @Test
    void taskArithmeticWithNormalizeDividesTheWeightsByTheirSum() {
        assertClose(expected(2, 1), merge(Method.TASK_ARITHMETIC, r -> r.lambda(2f)));
        assertClose(expected(2, 4), merge(Method.TASK_ARITHMETIC, r -> r.lambda(2f).normalize(true)));
    }

    @Test
    void everyMethodDeclaresWeightAndTheFlagDefaultsAreMergekits() {
        for (Method m : Method.values()) {
            assertEquals(true, m.reads(Parameter.WEIGHT), m.id());
            assertEquals(m == Method.LINEAR || m == Method.TIES || m == Method.DELLA, m.defaultFlag(Parameter.NORMALIZE), m.id());
            assertEquals(m.id().startsWith("dare_") || m.id().startsWith("della"), m.defaultFlag(Parameter.RESCALE), m.id());
            assertEquals(m.reads(Parameter.REMOVE), m.supportsRemove(), m.id());
        }
    }
}
