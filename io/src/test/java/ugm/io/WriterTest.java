package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** The writer's all-or-nothing publication, and its refusals. */
class WriterTest {

    @TempDir
    Path dir;

    static final TensorInfo A = new TensorInfo("a", DType.F32, new long[] {1000});
    static final TensorInfo B = new TensorInfo("b", DType.BF16, new long[] {10, 10});

    List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void temporaryIsHiddenBesideTheTargetUntilCommit() throws IOException {
        Path out = dir.resolve("out.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, List.of(A, B), Map.of())) {
            Path tmp = w.temporaryPath();
            assertEquals(dir.toAbsolutePath(), tmp.getParent());
            assertTrue(tmp.getFileName().toString().startsWith(".out.safetensors.ugm-tmp-"), tmp.toString());
            assertEquals(w.layout().fileSize(), Files.size(tmp));
            assertFalse(Files.exists(out));
            w.commit();
            assertFalse(Files.exists(tmp));
        }
        assertEquals(List.of("out.safetensors"), listing());
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws IOException {
        Path out = dir.resolve("out.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, List.of(A), Map.of())) {
            w.target(A).fill((byte) 1);
        }
        assertEquals(List.of(), listing());
    }

    @Test
    void failureMidFillLeavesNothingAndKeepsAnOldFile() throws IOException {
        Path out = dir.resolve("out.safetensors");
        Files.writeString(out, "previous");
        RuntimeException boom = assertThrows(RuntimeException.class, () -> {
            try (SafetensorsWriter w = SafetensorsWriter.create(out, List.of(A, B), Map.of())) {
                w.target(A).fill((byte) 1);
                throw new RuntimeException("producer failed");
            }
        });
        assertEquals("producer failed", boom.getMessage());
        assertEquals(List.of("out.safetensors"), listing());
        assertEquals("previous", Files.readString(out));
    }

    @Test
    void commitReplacesAnOldFile() throws IOException {
        Path out = dir.resolve("out.safetensors");
        Files.writeString(out, "previous");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, List.of(B), Map.of())) {
            w.commit();
        }
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(List.of(B), f.tensors());
        }
    }

    @Test
    void producersOnManyThreadsInAnyOrder() throws Exception {
        List<TensorInfo> tensors = java.util.stream.IntStream.range(0, 64)
                .mapToObj(i -> new TensorInfo("t" + i, DType.I32, new long[] {257})).toList();
        Path out = dir.resolve("par.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, tensors, Map.of());
             ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> jobs = tensors.reversed().stream().map(t -> pool.submit(() -> {
                MemorySegment s = w.target(t);
                int v = Integer.parseInt(t.name().substring(1));
                for (long i = 0; i < 257; i++) {
                    s.setAtIndex(ReferenceVectorsTest.I32, i, v * 1000 + (int) i);
                }
            })).<Future<?>>map(f -> f).toList();
            for (Future<?> j : jobs) {
                j.get();
            }
            w.commit();
        }
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(42 * 1000 + 256, f.data("t42").getAtIndex(ReferenceVectorsTest.I32, 256));
            assertEquals(7 * 1000, f.data("t7").getAtIndex(ReferenceVectorsTest.I32, 0));
        }
    }

    @Test
    void refusals() {
        Path out = dir.resolve("out.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(out, List.of(A, A), Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.create(out, List.of(new TensorInfo("__metadata__", DType.U8, new long[] {1})), Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.create(out, List.of(new TensorInfo("odd", DType.F4, new long[] {3})), Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.create(out, List.of(new TensorInfo("bad\uD800", DType.U8, new long[] {1})), Map.of()));
        try (SafetensorsWriter w = SafetensorsWriter.create(out, List.of(A), Map.of())) {
            IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> w.target(B));
            assertTrue(unknown.getMessage().contains("tensor 'b'"), unknown.getMessage());
            assertThrows(IllegalArgumentException.class, () -> w.target(new TensorInfo("a", DType.F32, new long[] {999})));
            assertThrows(IllegalArgumentException.class, () -> w.target(new TensorInfo("a", DType.I32, new long[] {1000})));
            w.commit();
            assertThrows(IllegalStateException.class, w::commit);
            assertThrows(IllegalStateException.class, () -> w.target(A));
        }
    }

    @Test
    void creatingInAMissingFolderIsAnIoErrorNamingTheFile() {
        Path out = dir.resolve("no/such/folder/out.safetensors");
        ugm.core.UgmException e = assertThrows(ugm.core.UgmException.class, () -> SafetensorsWriter.create(out, List.of(A), Map.of()));
        assertEquals(ugm.core.UgmException.Kind.IO, e.kind());
        assertTrue(e.getMessage().startsWith(out + ": "), e.getMessage());
    }

    @Test
    void spaceIsReservedNativelyOnLinux() throws IOException {
        if (System.getProperty("os.name").toLowerCase().contains("linux")) {
            assertTrue(DiskSpace.reserves(), "posix_fallocate should be reachable through the FFM linker");
        }
        Path out = dir.resolve("r.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, List.of(A), Map.of())) {
            assertEquals(8 + w.layout().headerLength() + 4000, Files.size(w.temporaryPath()));
            assertArrayEquals(new byte[4000], w.target(A).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void diskFullIsAnIoErrorBeforeAnyMappingAndLeavesNothing() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(DiskSpace.reserves(), "needs posix_fallocate");
        Path out = dir.resolve("huge.safetensors");
        TensorInfo petabyte = new TensorInfo("p", DType.U8, new long[] {1L << 50});
        ugm.core.UgmException e = assertThrows(ugm.core.UgmException.class,
                () -> SafetensorsWriter.create(out, List.of(petabyte), Map.of()));
        assertEquals(ugm.core.UgmException.Kind.IO, e.kind());
        assertTrue(e.getMessage().startsWith(out + ": cannot create: cannot reserve"), e.getMessage());
        assertEquals(List.of(), listing());
    }
}
