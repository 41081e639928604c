package ugm.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * Starts the write-back of finished ranges of an output file while the merge goes on
 * ({@code sync_file_range(SYNC_FILE_RANGE_WRITE)}, Linux): the disk writes overlap the
 * computing, and the final fsync finds little left to do. Asynchronous and a hint only: the
 * fsync at commit is what makes the file durable. Elsewhere, or without native access, it does
 * nothing.
 */
final class Writeback implements AutoCloseable {
    private static final int O_RDONLY = 0;
    private static final int SYNC_FILE_RANGE_WRITE = 2;
    private static final MethodHandle SYNC_FILE_RANGE = Libc.available() ? Libc.call("sync_file_range",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT)) : null;

    /** The file's descriptor, or -1 when there is none (unsupported, or closed). */
    private int fd;

    private Writeback(int fd) {
        this.fd = fd;
    }

    /** A write-back handle on {@code file}; one that does nothing where that is not possible. */
    static Writeback of(Path file) {
        return new Writeback(SYNC_FILE_RANGE == null ? -1 : Libc.open(file, O_RDONLY));
    }

    /** Whether ranges are really handed to the kernel (Linux with native access). */
    boolean active() {
        return fd >= 0;
    }

    /** Starts writing {@code length} bytes at {@code offset} to disk, without waiting. */
    synchronized void start(long offset, long length) {
        if (fd < 0 || length <= 0) {
            return;
        }
        try {
            int ignored = (int) SYNC_FILE_RANGE.invokeExact(fd, offset, length, SYNC_FILE_RANGE_WRITE);
        } catch (Throwable e) {
            if (e instanceof Error err) {
                throw err;
            }
        }
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            Libc.close(fd);
            fd = -1;
        }
    }
}
