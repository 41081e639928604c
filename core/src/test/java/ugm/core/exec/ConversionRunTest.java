package ugm.core.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;

class ConversionRunTest {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private static Map<String, MemorySegment> convert(TensorSource src, List<TensorInfo> outputs, int threads, AtomicLong bytes) {
        Map<String, MemorySegment> out = new HashMap<>();
        for (TensorInfo t : outputs) {
            out.put(t.name(), Arena.ofAuto().allocate(Math.max(1, t.byteSize()), 8).asSlice(0, t.byteSize()));
        }
        long written = Conversion.run(src, outputs, t -> out.get(t.name()), threads, bytes::addAndGet);
        assertEquals(outputs.stream().mapToLong(TensorInfo::byteSize).sum(), written);
        return out;
    }

    /** Every BF16 bit pattern, five times over (several chunks), to F32 and back. */
    @Test
    void bf16ToF32AndBackKeepsEveryValue() {
        int n = 5 * 65536;
        MemorySegment bf = Arena.ofAuto().allocate(2L * n, 8);
        for (int i = 0; i < n; i++) {
            bf.setAtIndex(SHORT, i, (short) i);
        }
        MemoryTensors src = new MemoryTensors("bf16").add("all", DType.BF16, new long[] {5, 65536}, bf);
        AtomicLong progress = new AtomicLong();
        MemorySegment f32 = convert(src, List.of(new TensorInfo("all", DType.F32, new long[] {5, 65536})), 2, progress).get("all");
        assertEquals(4L * n, progress.get());
        for (int i = 0; i < n; i++) {
            int expected = (bf.getAtIndex(SHORT, i) & 0xFFFF) << 16;
            assertEquals(expected, f32.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i), "pattern " + Integer.toHexString(i));
        }
        MemoryTensors back = new MemoryTensors("f32").add("all", DType.F32, new long[] {5, 65536}, f32);
        MemorySegment again = convert(back, List.of(new TensorInfo("all", DType.BF16, new long[] {5, 65536})), 2, new AtomicLong()).get("all");
        int changed = 0;
        for (int i = 0; i < n; i++) {
            short before = bf.getAtIndex(SHORT, i);
            short after = again.getAtIndex(SHORT, i);
            if (before != after) {
                // Only signalling NaNs (exponent all ones, quiet bit clear, payload not zero) come back different: quieted.
                boolean signalling = (before & 0x7F80) == 0x7F80 && (before & 0x40) == 0 && (before & 0x3F) != 0;
                assertTrue(signalling && after == (short) (before | 0x40), Integer.toHexString(before & 0xFFFF) + " -> "
                        + Integer.toHexString(after & 0xFFFF));
                changed++;
            }
        }
        assertEquals(5 * 2 * 63, changed);
    }

    @Test
    void unchangedDtypesAreCopiedByteForByteAndOthersRounded() {
        MemorySegment ints = Arena.ofAuto().allocate(8 * 3, 8);
        for (int i = 0; i < 3; i++) {
            ints.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, -7L * i);
        }
        MemorySegment floats = Arena.ofAuto().allocate(4 * 4, 8);
        float[] values = {1.0f, 1.00390625f, 1.01171875f, -0.0f}; // ties to even both ways, and -0
        for (int i = 0; i < 4; i++) {
            floats.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, values[i]);
        }
        MemoryTensors src = new MemoryTensors("mixed").add("ids", DType.I64, new long[] {3}, ints)
                .add("w", DType.F32, new long[] {2, 2}, floats);
        Map<String, MemorySegment> out = convert(src, List.of(new TensorInfo("ids", DType.I64, new long[] {3}),
                new TensorInfo("w", DType.BF16, new long[] {2, 2})), 1, new AtomicLong());
        assertEquals(-1, out.get("ids").mismatch(ints));
        short[] expected = {0x3F80, 0x3F80, 0x3F82, (short) 0x8000};
        for (int i = 0; i < 4; i++) {
            assertEquals(expected[i], out.get("w").getAtIndex(SHORT, i), "element " + i);
        }
    }

    @Test
    void anIntegerTensorCannotBecomeFloating() {
        MemoryTensors src = new MemoryTensors("src").add("ids", DType.I64, new long[] {1}, Arena.ofAuto().allocate(8));
        UgmException e = assertThrows(UgmException.class, () -> convert(src,
                List.of(new TensorInfo("ids", DType.F32, new long[] {1})), 1, new AtomicLong()));
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I64"), e.getMessage());
    }

    /**
     * A conversion tells the executor's prefetch of every byte it reads and writes before the
     * workers reach it (what `ugm convert` reads ahead with), and writes the same bytes as without.
     */
    @Test
    void aConversionAdvisesEveryByteItReadsAndWrites() {
        int n = 300_000; // several chunks
        MemorySegment in = Arena.ofAuto().allocate(2L * n, 8);
        for (int i = 0; i < n; i++) {
            in.setAtIndex(SHORT, i, (short) (i * 31 + 7));
        }
        MemorySegment out = Arena.ofAuto().allocate(4L * n, 8);
        MemoryTensors src = new MemoryTensors("bf16").add("w", DType.BF16, new long[] {n}, in);
        boolean[][] advised = {new boolean[(int) in.byteSize()], new boolean[(int) out.byteSize()]};
        Prefetch recording = new Prefetch() {
            @Override
            public synchronized void willNeed(List<MemorySegment> ranges) {
                for (MemorySegment r : ranges) {
                    int k = r.address() >= out.address() && r.address() < out.address() + out.byteSize() ? 1 : 0;
                    long base = k == 1 ? out.address() : in.address();
                    for (long a = r.address(); a < r.address() + r.byteSize(); a++) {
                        advised[k][(int) (a - base)] = true;
                    }
                }
            }

            @Override
            public void done(List<MemorySegment> ranges) {
            }
        };
        List<TensorInfo> outputs = List.of(new TensorInfo("w", DType.F32, new long[] {n}));
        Conversion.run(src, outputs, t -> out, 2, b -> { },
                ChunkExecutor.of(ugm.core.kernel.KernelPolicy.scalarOnly()).withPrefetch(recording, 64 << 10));
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < advised[k].length; i++) {
                assertTrue(advised[k][i], (k == 0 ? "input" : "output") + " byte " + i + " was not advised");
            }
        }
        MemorySegment plain = convert(src, outputs, 2, new AtomicLong()).get("w");
        assertEquals(-1, plain.mismatch(out), "the same bytes as without read-ahead");
    }
}
