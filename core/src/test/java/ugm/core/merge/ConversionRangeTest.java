package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ugm.core.merge.Numerics.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import ugm.core.exec.Conversion;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.OutOfRange;
import ugm.core.TensorInfo;

/** Conversions count, per tensor, the finite values the new dtype cannot hold. */
class ConversionRangeTest {
    @Test
    void conversionsCountTheValuesTheNewDtypeCannotHold() {
        int n = 70_000; // more than one conversion chunk
        double[] v = new double[n];
        int f16Beyond = 0;
        for (int i = 0; i < n; i++) {
            v[i] = i % 1000 == 0 ? 1e5 * (i % 2000 == 0 ? 1 : -1) : i % 1000 == 1 ? Double.NaN : i % 1000 == 2 ? Double.POSITIVE_INFINITY : i;
            f16Beyond += v[i] == 1e5 || v[i] == -1e5 || Double.isFinite(v[i]) && Math.abs(v[i]) >= 65520 ? 1 : 0;
        }
        MemoryTensors src = tensor("src", "w", DType.F32, v).add("small", DType.F32, new long[] {3},
                Tensors.encode(DType.F32, new double[] {1, 2, 3}));
        List<TensorInfo> outputs = List.of(new TensorInfo("w", DType.F16, new long[] {n}), new TensorInfo("small", DType.F16, new long[] {3}));
        Conversion.Report report = Conversion.convert(src, outputs, t -> Arena.ofAuto().allocate(t.byteSize(), 8), 2, bytes -> { });
        assertEquals(List.of(new OutOfRange("w", DType.F16, f16Beyond, 0)), report.outOfRange());
        assertEquals(2L * n + 6, report.bytesWritten());
        assertEquals("tensor 'w': " + f16Beyond + " values beyond the F16 range (largest finite 65504) were written as infinity",
                report.outOfRange().get(0).toString());
        // F64 values beyond the float range, to F32 and BF16; F64 NaN and infinities are not counted
        double[] wide = {1e300, -1e39, 3e38, Double.NaN, Double.NEGATIVE_INFINITY, 1};
        MemoryTensors f64 = tensor("f64", "w", DType.F64, wide);
        for (DType to : new DType[] {DType.F32, DType.BF16}) {
            Map<String, MemorySegment> out = new HashMap<>();
            Conversion.Report r = Conversion.convert(f64, List.of(new TensorInfo("w", to, new long[] {wide.length})),
                    t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(t.byteSize(), 8)), 1, bytes -> { });
            assertEquals(List.of(new OutOfRange("w", to, 2, 0)), r.outOfRange(), to.name());
            double[] got = Tensors.decode(to, out.get("w"));
            assertEquals(Double.POSITIVE_INFINITY, got[0]);
            assertEquals(Double.NEGATIVE_INFINITY, got[1]);
            assertTrue(Double.isFinite(got[2]));
        }
        // nothing to report, nothing reported
        assertEquals(List.of(), Conversion.convert(src, List.of(new TensorInfo("small", DType.BF16, new long[] {3})),
                t -> Arena.ofAuto().allocate(t.byteSize(), 8), 1, bytes -> { }).outOfRange());
    }
}
