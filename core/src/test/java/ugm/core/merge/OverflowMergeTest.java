package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ugm.core.merge.Numerics.assertMatches;
import static ugm.core.merge.Numerics.gaussian;
import static ugm.core.merge.Numerics.merge;
import static ugm.core.merge.Numerics.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.OutOfRange;
import ugm.core.TensorWarning;
import ugm.core.UgmException;
import ugm.core.merge.MergeReport.NonFinite;
import ugm.core.merge.methods.Method;

/**
 * Finite inputs whose float32 arithmetic overflows, through the whole engine: the merge is the
 * double-precision evaluation (written here) wherever that is within the output dtype, and an
 * infinity counted in the report, one warning per tensor, where it is not; an F64 value that
 * float32 cannot hold is an error naming it.
 */
class OverflowMergeTest {
    /**
     * Removal with a clamp of 1e-40 (allowed: it lies in (0, 1]) amplifies by up to 1e40 where the
     * task's Fisher outweighs the base's: the float limit 1e-40·P0 is subnormal or 0, which made
     * 0/0 and x/0. Now: the double evaluation wherever it is a float (tiny deltas), an infinity
     * counted in the report where it is not, the ordinary rule elsewhere.
     */
    @Test
    void removalWithATinyClampIsFiniteWhereverTheExactResultIsAndReportsTheRest() {
        Random r = new Random(5);
        int n = 4000;
        double[] b = gaussian(r, n, 0, 0.05);
        double[] h0 = new double[n];
        double[] x = gaussian(r, n, 0, 0.05);
        double[] h = new double[n];
        for (int i = 0; i < n; i++) {
            h0[i] = i % 11 == 0 ? 0 : (1 + r.nextDouble()) * Math.pow(10, -3 - 30 * r.nextDouble()); // P0 from 1e-3 down to 1e-33
            switch (i % 3) {
                case 0 -> h[i] = h0[i] * r.nextDouble(); // Hbar = P0 - H stays above the clamp: the ordinary rule
                case 1 -> { // clamped, but the delta is tiny: about (1 + H/P0) × 1e-30 / 1e-40, a float
                    h[i] = h0[i] * (2 + r.nextDouble());
                    b[i] = 0;
                    x[i] = (r.nextBoolean() ? 1e-30 : -1e-30) * (1 + r.nextDouble());
                }
                default -> h[i] = h0[i] * (2 + r.nextDouble()); // clamped, ordinary delta: beyond the float range
            }
        }
        Reference.Params p = new Reference.Params(new double[] {1}, 1, new double[] {1}, 1, 0, true, (double) 1e-40f, false, true);
        for (DType type : new DType[] {DType.F32, DType.BF16}) {
            MergeReport[] report = new MergeReport[1];
            Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(tensor("base", "w", type, b))
                    .baseFisher(tensor("h0", "w", type, h0)).model(tensor("m", "w", type, x)).fisher(tensor("h", "w", type, h))
                    .remove(true).clampRel(1e-40f).outDtype(DType.F32).build(), report);
            double[] got = Tensors.decode(DType.F32, out.get("w"));
            double[] sb = Tensors.stored(type, b);
            double[] sh0 = Tensors.stored(type, h0);
            double[] sx = Tensors.stored(type, x);
            double[] sh = Tensors.stored(type, h);
            double[] want = new double[n];
            double[] tolerance = new double[n];
            long[] clamped = new long[1];
            for (int i = 0; i < n; i++) {
                long before = clamped[0];
                want[i] = Reference.value(Method.GRADIENT_MATCHING, p, sb[i], sh0[i], new double[] {sx[i]}, new double[] {sh[i]}, clamped);
                // clamped: Hbar is the limit itself, no difference to round: a few float ulps; else float32
                // rounding of the terms, amplified where Hbar is a difference (removal)
                tolerance[i] = clamped[0] > before && sh0[i] > 0 ? 1e-6 * Math.abs(want[i])
                        : 1e-5 * Reference.magnitude(Method.GRADIENT_MATCHING, p, sb[i], sh0[i], new double[] {sx[i]}, new double[] {sh[i]});
            }
            int beyond = assertMatches(type + " removal, clamp 1e-40", want, got, tolerance);
            assertTrue(beyond > n / 4 && beyond < n / 2, "results beyond the float range: " + beyond);
            assertEquals(List.of(new OutOfRange("w", DType.F32, beyond, 0)), report[0].nonFinite(), type.name());
            assertEquals("tensor 'w': " + beyond + " values beyond the F32 range (largest finite 3.4028235E38) were written as infinity",
                    report[0].nonFinite().get(0).toString());
            assertEquals(clamped[0], report[0].clampedElements(), 5, "clamped elements");
        }
    }

    /**
     * F32 Fishers near 3e38, or a Fisher scale of 2e38, overflow s·H and Hbar in float32: the
     * merge is the double evaluation, on the direct kernel's one-dtype path and on the general
     * path (mixed dtypes), with nothing to report.
     */
    @Test
    void hugeFishersAndFisherScalesGiveTheDoubleEvaluation() {
        Random r = new Random(9);
        int n = 5000;
        double[] b = gaussian(r, n, 0, 0.02);
        double[] x1 = gaussian(r, n, 0, 0.02);
        double[] x2 = gaussian(r, n, 0, 0.02);
        double[] h0 = new double[n];
        double[] h1 = new double[n];
        double[] h2 = new double[n];
        double[] ordinary = new double[n];
        for (int i = 0; i < n; i++) {
            h0[i] = Math.abs(r.nextGaussian()) * 1e-3;
            h1[i] = i % 3 == 0 ? 3e38 * (0.9 + 0.1 * r.nextDouble()) : Math.abs(r.nextGaussian());
            h2[i] = i % 5 == 0 ? 3.3e38 : Math.abs(r.nextGaussian()); // (BF16 ends at 3.39e38)
            ordinary[i] = Math.abs(r.nextGaussian());
        }
        record Case(String what, double[] f1, double s1, DType fisherType) {
        }
        for (Case c : List.of(new Case("Fishers near 3e38", h1, 1, DType.F32), new Case("Fisher scale 2e38", ordinary, 2e38, DType.F32),
                new Case("Fishers near 3e38, BF16", h1, 1, DType.BF16))) {
            for (DType models : new DType[] {c.fisherType(), DType.F16}) {
                // one dtype throughout: the direct kernel's path, which hands the overflowing blocks to the general path
                DType outType = models == c.fisherType() ? models : DType.F32;
                MergeReport[] report = new MergeReport[1];
                Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.GRADIENT_MATCHING)
                        .base(tensor("base", "w", models, b)).baseFisher(tensor("h0", "w", c.fisherType(), h0))
                        .model(tensor("m1", "w", models, x1)).model(tensor("m2", "w", models, x2))
                        .fisher(tensor("h1", "w", c.fisherType(), c.f1())).fisher(tensor("h2", "w", c.fisherType(), h2))
                        .fisherScales((float) c.s1(), 1f).baseFisherScale(25_000f).delta0(1e-12f).outDtype(outType).build(), report);
                double[] got = Tensors.decode(outType, out.get("w"));
                Reference.Params p = new Reference.Params(new double[] {1, 1}, 1, new double[] {(float) c.s1(), 1}, 25_000, (double) 1e-12f,
                        false, 0.1, false, true);
                double[] sb = Tensors.stored(models, b);
                double[][] sx = {Tensors.stored(models, x1), Tensors.stored(models, x2)};
                double[] sh0 = Tensors.stored(c.fisherType(), h0);
                double[][] sh = {Tensors.stored(c.fisherType(), c.f1()), Tensors.stored(c.fisherType(), h2)};
                double[] want = new double[n];
                for (int i = 0; i < n; i++) {
                    want[i] = Reference.value(Method.GRADIENT_MATCHING, p, sb[i], sh0[i], new double[] {sx[0][i], sx[1][i]},
                            new double[] {sh[0][i], sh[1][i]}, new long[1]);
                }
                assertMatches(c.what() + " models " + models, want, got, outType == DType.BF16 ? 1.0 / 128 : 1e-5, 1e-7);
                assertEquals(List.of(), report[0].nonFinite(), c.what());
            }
        }
    }

    @Test
    void taskArithmeticWithLambda3e38IsExactWhereFiniteAndCountsTheOverflow() {
        Random r = new Random(21);
        int n = 2000;
        double[] b = gaussian(r, n, 0, 0.02);
        double[] x = new double[n];
        int expectBeyond = 0;
        for (int i = 0; i < n; i++) {
            x[i] = b[i] + (i % 4 == 0 ? 1.5 + r.nextDouble() : 1e-3 * r.nextGaussian()); // 3e38 × 1.5 and more overflows
            expectBeyond += i % 4 == 0 ? 1 : 0;
        }
        for (DType type : new DType[] {DType.F32, DType.BF16}) {
            MergeReport[] report = new MergeReport[1];
            Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.TASK_ARITHMETIC).base(tensor("base", "w", type, b))
                    .model(tensor("m", "w", type, x)).lambda(3e38f).outDtype(DType.F32).build(), report);
            double[] got = Tensors.decode(DType.F32, out.get("w"));
            double[] sb = Tensors.stored(type, b);
            double[] sx = Tensors.stored(type, x);
            double[] want = new double[n];
            for (int i = 0; i < n; i++) {
                want[i] = sb[i] + (double) 3e38f * (sx[i] - sb[i]);
            }
            assertEquals(expectBeyond, assertMatches(type + " lambda 3e38", want, got, 1e-6, 0));
            assertEquals(List.of(new OutOfRange("w", DType.F32, expectBeyond, 0)), report[0].nonFinite());
        }
    }

    @Test
    void valuesBeyondTheOutputDtypeAreCountedPerTensor() {
        double[] a = {1e5, -7e4, 3, 65504, 65519, 65520, Double.NaN, 1e6};
        double[] c = {1e5, -7e4, 5, 65504, 65519, 65520, 1, Double.POSITIVE_INFINITY};
        MemoryTensors m1 = tensor("m1", "w", DType.F32, a).add("ok", DType.F32, new long[] {2}, Tensors.encode(DType.F32, new double[] {1, 2}));
        MemoryTensors m2 = tensor("m2", "w", DType.F32, c).add("ok", DType.F32, new long[] {2}, Tensors.encode(DType.F32, new double[] {3, 4}));
        MergeReport[] report = new MergeReport[1];
        Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.LINEAR).model(m1).model(m2).outDtype(DType.F16).build(), report);
        double[] got = Tensors.decode(DType.F16, out.get("w"));
        assertArrayEquals(new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 4, 65504, 65504, Double.POSITIVE_INFINITY,
            Double.NaN, Double.POSITIVE_INFINITY}, got);
        // 1e5, -7e4 and 65520 overflow F16; the NaN and the infinity come from the inputs and are reported as such
        List<TensorWarning> want = List.of(new NonFinite("w", "m1", 1, 0), new NonFinite("w", "m2", 0, 1),
                new OutOfRange("w", DType.F16, 3, 0));
        assertEquals(want, report[0].nonFinite());
        assertEquals("tensor 'w': 3 values beyond the F16 range (largest finite 65504) were written as infinity",
                report[0].nonFinite().get(2).toString());
        // BF16 ends below the float maximum
        MemoryTensors b1 = tensor("b1", "w", DType.F32, new double[] {3.4e38, 3.0e38}); // BF16 rounds up to infinity from 3.3961e38
        MergeReport[] bf = new MergeReport[1];
        double[] rounded = Tensors.decode(DType.BF16, merge(MergeRequest.builder(Method.LINEAR).model(b1).outDtype(DType.BF16).build(), bf)
                .get("w"));
        assertEquals(Double.POSITIVE_INFINITY, rounded[0]);
        assertEquals(3.0e38, rounded[1], 1.4e36);
        assertEquals(List.of(new OutOfRange("w", DType.BF16, 1, 0)), bf[0].nonFinite());
    }

    @Test
    void f64InputsBeyondTheFloat32RangeAreRefusedNamingTheElement() {
        double[] x = {1, 2, 3, 4, 5, 1e300, 7};
        MemoryTensors m1 = tensor("m1", "w", DType.F64, x);
        MemoryTensors m2 = tensor("m2", "w", DType.F64, new double[] {1, 2, 3, 4, 5, 6, 7});
        UgmException e = assertThrows(UgmException.class, () -> Merger.merge(MergeRequest.builder(Method.LINEAR).model(m2).model(m1)
                .build(), t -> Arena.ofAuto().allocate(t.byteSize(), 8)));
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertEquals("tensor 'w' in m1: F64 value 1.0E300 at element 5 is beyond the float32 range ugm merges in (±3.4028235E38)",
                e.getMessage());
        // F64 infinities and NaN are inputs like any other: passed through and reported
        MemoryTensors m3 = tensor("m3", "w", DType.F64, new double[] {1, 2, Double.NEGATIVE_INFINITY, 4, Double.NaN, 6, 7});
        MergeReport[] report = new MergeReport[1];
        merge(MergeRequest.builder(Method.LINEAR).model(m2).model(m3).build(), report);
        assertEquals(List.of(new NonFinite("w", "m3", 1, 1)), report[0].nonFinite());
    }

    /** The findings come per tensor in the plan's order: inputs, then the output, then the method's warning. */
    @Test
    void warningsComeInTensorOrder() {
        List<String> names = new ArrayList<>();
        MemoryTensors m1 = new MemoryTensors("m1");
        MemoryTensors m2 = new MemoryTensors("m2");
        for (String name : new String[] {"c", "a", "b"}) {
            names.add(name);
            double big = name.equals("b") ? 1 : 1e5;
            m1.add(name, DType.F32, new long[] {2}, Tensors.encode(DType.F32, new double[] {big, name.equals("a") ? Double.NaN : 0}));
            m2.add(name, DType.F32, new long[] {2}, Tensors.encode(DType.F32, new double[] {big, 0}));
        }
        MergeReport[] report = new MergeReport[1];
        merge(MergeRequest.builder(Method.LINEAR).model(m1).model(m2).outDtype(DType.F16).threads(2).build(), report);
        assertEquals(List.of(new OutOfRange("c", DType.F16, 1, 0), new NonFinite("a", "m1", 1, 0), new OutOfRange("a", DType.F16, 1, 0)),
                report[0].nonFinite());
    }
}
