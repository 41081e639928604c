package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.methods.Method;

/**
 * An input rewritten in place at the same size (a training job saving over its checkpoint) shows
 * its new bytes through the mapping without any fault. ugm notices from the file's times: the
 * merge stops with one I/O error naming the file, and the check before publishing says the same.
 */
class RewrittenInputTest {
    @TempDir
    Path dir;

    /** Small enough that the kernels stay interpreted or C1-compiled: see TruncatedInputTest, which runs after. */
    static final int ELEMENTS = 1 << 14;

    Path input(String name) {
        Path f = dir.resolve(name + ".safetensors");
        CheckpointTest.writeFile(f, List.of(new TensorInfo("w", DType.F32, new long[] {ELEMENTS}),
                new TensorInfo("v", DType.F32, new long[] {ELEMENTS})));
        return f;
    }

    /** Overwrites bytes in the data region, keeping the size and setting the modification time back. */
    static void rewriteInPlace(Path file) {
        try {
            FileTime before = Files.getLastModifiedTime(file);
            long size = Files.size(file);
            Thread.sleep(20); // past the file system clock's tick, so the status-change time moves
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[4096]), size - 8192);
            }
            Files.setLastModifiedTime(file, before);
            assertEquals(size, Files.size(file));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aSameSizeRewriteWithTheOldModificationTimeIsSeen() {
        Path f = input("model");
        try (Checkpoint c = Checkpoint.open(f)) {
            assertNull(c.changedFile("w"));
            c.requireUnchanged("merge");
            rewriteInPlace(f);
            assertEquals(f.toString(), c.changedFile("w"));
            UgmException e = assertThrows(UgmException.class, () -> c.requireUnchanged("conversion"));
            assertEquals(UgmException.Kind.IO, e.kind());
            assertEquals("input changed during conversion: " + f, e.getMessage());
        }
    }

    @Test
    void aFileRenamedOverTheInputIsSeen() throws IOException {
        Path f = input("model");
        Path other = input("other");
        try (Checkpoint c = Checkpoint.open(f)) {
            Files.move(other, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            assertEquals(f.toString(), c.changedFile("w"));
        }
    }

    @Test
    void aRewriteDuringTheMergeStopsItAtTheNextFinishedTensor() throws Exception {
        Path base = input("base");
        Path model = input("model");
        Path out = dir.resolve("out");
        try (Checkpoint b = Checkpoint.open(base); Checkpoint m = Checkpoint.open(model)) {
            MergeRequest request = MergeRequest.builder(Method.TASK_ARITHMETIC).base(b).model(m).threads(1)
                    .chunkElements(4096).build();
            MergePlan plan = MergePlan.of(request).requireValid();
            AtomicBoolean done = new AtomicBoolean();
            UgmException e;
            try (OutputFolder folder = OutputFolder.create(out, false);
                 ShardedWriter writer = folder.shards(plan.outputs(), Map.of(), 1L << 40)) {
                e = assertThrows(UgmException.class, () -> Merger.execute(plan, writer, bytes -> {
                    if (done.compareAndSet(false, true)) {
                        rewriteInPlace(model);
                    }
                }));
            }
            assertEquals(UgmException.Kind.IO, e.kind());
            assertEquals("input changed during merge: " + model, e.getMessage());
        }
        assertFalse(Files.exists(out), "no output");
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".ugm-")), "no temporaries");
        }
    }
}
