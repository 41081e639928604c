package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.exec.Conversion;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.methods.Method;

/**
 * An input truncated while it is mapped: the merge stops with one I/O error naming that file,
 * the JVM goes on, and nothing is left in the output folder. The truncation is done by another
 * thread after the first chunk has been merged (the progress callback waits for it), so the
 * following chunks read pages that no longer exist.
 */
class TruncatedInputTest {
    @TempDir
    Path dir;

    static final int ELEMENTS = 1 << 20; // 4 MB per F32 input: many pages after the cut

    Path input(String name) {
        Path f = dir.resolve(name + ".safetensors");
        CheckpointTest.writeFile(f, List.of(new TensorInfo("w", DType.F32, new long[] {ELEMENTS}),
                new TensorInfo("v", DType.F32, new long[] {ELEMENTS})));
        return f;
    }

    @Test
    void truncatingAnInputMidMergeIsAnIoErrorNamingTheFile() throws Exception {
        for (int threads : new int[] {1, 2}) {
            Path base = input("base");
            Path model = input("model");
            Path out = dir.resolve("out-" + threads);
            try (Checkpoint b = Checkpoint.open(base); Checkpoint m = Checkpoint.open(model)) {
                assertNull(m.changedFile("w"));
                MergeRequest request = MergeRequest.builder(Method.TASK_ARITHMETIC).base(b).model(m).threads(threads)
                        .chunkElements(4096).build();
                MergePlan plan = MergePlan.of(request).requireValid();
                AtomicBoolean cut = new AtomicBoolean();
                UgmException e;
                try (OutputFolder folder = OutputFolder.create(out, false);
                     ShardedWriter writer = folder.shards(plan.outputs(), Map.of(), 1L << 40)) {
                    e = assertThrows(UgmException.class, () -> Merger.execute(plan, writer, bytes -> {
                        if (cut.compareAndSet(false, true)) {
                            truncateFromAnotherThread(model, 8 + 4096);
                        }
                    }));
                }
                assertEquals(UgmException.Kind.IO, e.kind());
                assertEquals("input changed during merge: " + model, e.getMessage());
                assertInstanceOf(InternalError.class, e.getCause());
                assertEquals(model.toString(), m.changedFile("w"));
                assertNull(b.changedFile("w"));
            }
            assertTrue(!Files.exists(out), "no output");
            try (Stream<Path> s = Files.list(dir)) {
                assertEquals(List.of(), s.filter(p -> p.getFileName().toString().contains(".ugm-")).toList(), "no temporaries");
            }
        }
    }

    /** Conversions run on the same executor as merges: the same one-line error, naming the file. */
    @Test
    void truncatingAnInputMidConversionIsAnIoErrorNamingTheFile() throws Exception {
        for (int threads : new int[] {1, 2}) {
            Path model = input("convert-" + threads);
            try (Checkpoint m = Checkpoint.open(model)) {
                List<TensorInfo> outputs = m.tensors().stream().map(t -> new TensorInfo(t.name(), DType.BF16, t.shape())).toList();
                AtomicBoolean cut = new AtomicBoolean();
                UgmException e = assertThrows(UgmException.class, () -> Conversion.run(m, outputs,
                        t -> java.lang.foreign.Arena.ofAuto().allocate(t.byteSize(), 8), threads, bytes -> {
                            if (cut.compareAndSet(false, true)) {
                                truncateFromAnotherThread(model, 8 + 4096);
                            }
                        }));
                assertEquals(UgmException.Kind.IO, e.kind());
                assertEquals("input changed during conversion: " + model, e.getMessage());
                assertInstanceOf(InternalError.class, e.getCause());
            }
        }
    }

    static void truncateFromAnotherThread(Path file, long size) {
        Thread t = Thread.ofPlatform().start(() -> {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(size);
            } catch (IOException x) {
                throw new RuntimeException(x);
            }
        });
        try {
            t.join();
        } catch (InterruptedException x) {
            Thread.currentThread().interrupt();
        }
    }
}
