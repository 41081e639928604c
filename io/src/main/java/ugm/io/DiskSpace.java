package ugm.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import ugm.core.UgmException;

/**
 * Gives a new file its full size before it is mapped. On Linux the blocks are reserved with
 * {@code posix_fallocate}, so a full disk is an IOException now rather than a SIGBUS when a
 * page of the mapping is first written; elsewhere the file is just extended.
 */
final class DiskSpace {

    private static final int O_WRONLY = 1;
    private static final int EFBIG = 27;
    private static final int ENOSPC = 28;

    private static final MethodHandle FALLOCATE = Libc.available() ? Libc.call("posix_fallocate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG)) : null;

    private DiskSpace() {
    }

    /** Whether reservation goes through posix_fallocate (else the file is only extended). */
    static boolean reserves() {
        return FALLOCATE != null;
    }

    /** Makes {@code file}, open as {@code channel}, {@code size} bytes long, reserving them where possible. */
    static void allocate(Path file, FileChannel channel, long size) throws IOException {
        if (size <= 0) {
            return;
        }
        if (FALLOCATE != null) {
            int rc = fallocate(file, size);
            if (rc == 0 && channel.size() >= size) {
                return;
            }
            if (rc == ENOSPC || rc == EFBIG) {
                throw new IOException("cannot reserve " + size + " bytes: "
                        + (rc == ENOSPC ? "no space left on device" : "file too large"));
            }
            // Any other failure (e.g. unsupported by the file system): fall back.
        }
        channel.write(ByteBuffer.wrap(new byte[1]), size - 1);
    }

    /**
     * A new mapping of {@code bytes} zero bytes in {@code arena}, backed by a temporary file in
     * {@code java.io.tmpdir} (named {@code prefix}..., its blocks reserved) that is unlinked at once.
     *
     * @throws UgmException of kind IO naming {@code what} the mapping is for, when the file cannot be made
     */
    static MemorySegment temporaryMapping(long bytes, Arena arena, String prefix, String what) {
        if (bytes == 0) {
            return arena.allocate(0);
        }
        Path tmp = null;
        try {
            tmp = Files.createTempFile(prefix, ".tmp");
            try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                allocate(tmp, c, bytes); // a full disk is an error now, not a SIGBUS while writing
                return c.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            }
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot create a temporary file for " + what + " in "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    // the mapping works without the name; only the name is left behind
                }
            }
        }
    }

    /** posix_fallocate's result, or -1 when the file could not be opened natively. */
    private static int fallocate(Path file, long size) {
        int fd = Libc.open(file, O_WRONLY);
        if (fd < 0) {
            return -1;
        }
        try {
            return (int) FALLOCATE.invokeExact(fd, 0L, size);
        } catch (Throwable e) {
            if (e instanceof Error err) {
                throw err;
            }
            return -1;
        } finally {
            Libc.close(fd);
        }
    }
}
