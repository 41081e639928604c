package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** Releasing pages of file mappings drops only residency, never data; early write-back is a hint that changes nothing. */
class PagesTest {
    @TempDir
    Path tmp;

    @Test
    void releasedTensorsAreStillWrittenAndStillReadable() {
        long n = 3 * 4096 + 17; // several pages, not page-aligned
        TensorInfo a = new TensorInfo("a", DType.I32, new long[] {n});
        TensorInfo b = new TensorInfo("b", DType.I32, new long[] {n});
        Path file = tmp.resolve("x.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(file, List.of(a, b), Map.of())) {
            for (TensorInfo t : List.of(a, b)) {
                MemorySegment s = w.target(t);
                for (long i = 0; i < n; i++) {
                    s.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) (i * 31 + t.name().charAt(0)));
                }
                w.release(t); // dirty pages leave the process but must still reach the file
            }
            w.commit();
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (int round = 0; round < 2; round++) {
                for (String name : List.of("a", "b")) {
                    MemorySegment s = f.data(name);
                    long sum = 0;
                    long want = 0;
                    for (long i = 0; i < n; i++) {
                        sum += s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
                        want += (int) (i * 31 + name.charAt(0));
                    }
                    assertEquals(want, sum, name + " after release, round " + round);
                    f.release(name);
                }
            }
        }
    }

    @Test
    void writebackIsHandedToTheKernelOnLinuxAndDoesNothingOnceClosed() throws IOException {
        Path f = tmp.resolve("w.bin");
        Files.write(f, new byte[3 * 4096]);
        boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
        try (Writeback w = Writeback.of(f)) {
            assertEquals(linux, w.active()); // the tests run with native access, as ugm does
            w.start(0, 3 * 4096);
            w.start(4096, 0);
            w.close();
            assertFalse(w.active());
            w.start(0, 4096); // a closed descriptor is never used again
        }
        assertFalse(Writeback.of(tmp.resolve("missing")).active());
        assertEquals(3 * 4096, Files.size(f));
    }
}
