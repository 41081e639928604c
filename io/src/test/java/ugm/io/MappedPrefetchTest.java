package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.exec.ChunkExecutor;
import ugm.core.exec.Prefetch;
import ugm.core.kernel.KernelPolicy;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.methods.Method;

/** Read-ahead and release of mapped files: hints only, so the merged bytes are the same with and without them. */
class MappedPrefetchTest {
    @TempDir
    Path dir;

    static final List<TensorInfo> TENSORS = List.of(new TensorInfo("a", DType.F32, new long[] {300_001}),
            new TensorInfo("b", DType.BF16, new long[] {70, 1000}), new TensorInfo("c", DType.F32, new long[] {5}));

    Path input(String name, long seed) {
        Path f = dir.resolve(name + ".safetensors");
        SplittableRandom random = new SplittableRandom(seed);
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TENSORS, Map.of())) {
            for (TensorInfo t : TENSORS) {
                MemorySegment s = w.target(t);
                for (long i = 0; i < t.elementCount(); i++) {
                    float v = (float) random.nextGaussian();
                    if (t.dtype() == DType.F32) {
                        s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                    } else {
                        s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                    }
                }
            }
            w.commit();
        }
        return f;
    }

    byte[] merge(ChunkExecutor executor, String out, Path base, Path... models) throws Exception {
        try (Checkpoint b = Checkpoint.open(base); Checkpoint m0 = Checkpoint.open(models[0]); Checkpoint m1 = Checkpoint.open(models[1])) {
            MergeRequest request = MergeRequest.builder(Method.TASK_ARITHMETIC).base(b).model(m0).model(m1).threads(3)
                    .chunkElements(4096).build();
            MergePlan plan = MergePlan.of(request).requireValid();
            Path folder = dir.resolve(out);
            try (OutputFolder f = OutputFolder.create(folder, false); ShardedWriter writer = f.shards(plan.outputs(), Map.of(), 1L << 40)) {
                Merger.execute(plan, writer, ugm.core.merge.MergeProgress.NONE, executor);
                writer.commit();
                f.publish();
            }
            return Files.readAllBytes(folder.resolve(Checkpoint.SINGLE_FILE));
        }
    }

    @Test
    void aMergeWithReadAheadWritesTheSameBytesAsOneWithout() throws Exception {
        Path base = input("base", 1);
        Path m0 = input("m0", 2);
        Path m1 = input("m1", 3);
        ChunkExecutor plain = ChunkExecutor.of(KernelPolicy.scalarOnly());
        AtomicLong advised = new AtomicLong();
        AtomicLong released = new AtomicLong();
        Prefetch mapped = MappedPrefetch.of();
        Prefetch counting = new Prefetch() { // the real hints, counted so that the test knows they were given
            @Override
            public void willNeed(List<MemorySegment> ranges) {
                ranges.forEach(r -> advised.addAndGet(r.byteSize()));
                mapped.willNeed(ranges);
            }

            @Override
            public void done(List<MemorySegment> ranges) {
                ranges.forEach(r -> released.addAndGet(r.byteSize()));
                mapped.done(ranges);
            }
        };
        byte[] without = merge(plain, "without", base, m0, m1);
        byte[] with = merge(plain.withPrefetch(counting, 64 << 10), "with", base, m0, m1);
        assertArrayEquals(without, with);
        long tensorBytes = 300_001 * 4 + 70_000 * 2 + 20;
        assertTrue(advised.get() >= 4 * tensorBytes, "every input and output byte advised: " + advised.get());
        assertTrue(released.get() > 0, "finished ranges released");
    }

    @Test
    void onlyFileMappingsGetHints() {
        boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
        assertEquals(linux, MappedPrefetch.of() != Prefetch.NONE); // the tests run with native access, as ugm does
        long n = 4 * 4096 + 40;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment anonymous = arena.allocate(n, 4096); // DONTNEED would zero its pages
            byte[] heap = new byte[(int) n];
            for (long i = 0; i < n; i++) {
                anonymous.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 1));
                heap[(int) i] = (byte) (i * 7 + 1);
            }
            for (MemorySegment s : List.of(anonymous, MemorySegment.ofArray(heap))) {
                MappedPrefetch.of().willNeed(List.of(s));
                MappedPrefetch.of().done(List.of(s));
                for (long i = 0; i < n; i++) {
                    assertEquals((byte) (i * 7 + 1), s.get(ValueLayout.JAVA_BYTE, i), "byte " + i + " kept");
                }
            }
        }
    }

    /** Without native access the prefetch is {@link Prefetch#NONE}: a merge runs as without one. */
    @Test
    void withoutNativeAccessThereAreNoHints() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(java, "--illegal-native-access=deny", "-cp", classPath(NoNativeAccess.class, Prefetch.class),
                NoNativeAccess.class.getName()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe JVM finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.exitValue(), err);
        assertEquals("none", out, err);
    }

    /** Run in a JVM that denies native access. */
    public static final class NoNativeAccess {
        public static void main(String[] args) {
            System.out.println(MappedPrefetch.of() == Prefetch.NONE ? "none" : "hints");
        }
    }

    static String classPath(Class<?>... classes) throws URISyntaxException {
        Set<String> entries = new LinkedHashSet<>();
        for (Class<?> c : classes) {
            entries.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        for (String property : new String[] {"java.class.path", "jdk.module.path"}) {
            for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                if (!entry.isEmpty()) {
                    entries.add(entry);
                }
            }
        }
        return String.join(File.pathSeparator, entries);
    }
}
