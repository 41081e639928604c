package ugm.io;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Starts the write-back of finished ranges of an output file while the merge goes on
 * ({@code sync_file_range(SYNC_FILE_RANGE_WRITE)}, Linux): the disk writes overlap the
 * computing, and the final fsync finds little left to do. Asynchronous and a hint only: the
 * fsync at commit is what makes the file durable. Elsewhere, or without native access, it does
 * nothing.
 */
@SuppressWarnings("restricted") // native access is enabled for ugm (--enable-native-access)
final class Writeback implements AutoCloseable {
    private static final int O_RDONLY = 0;
    private static final int SYNC_FILE_RANGE_WRITE = 2;
    private static final MethodHandle OPEN;
    private static final MethodHandle SYNC_FILE_RANGE;
    private static final MethodHandle CLOSE;

    static {
        MethodHandle open = null;
        MethodHandle sync = null;
        MethodHandle close = null;
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                open = linker.downcallHandle(libc.find("open").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                        Linker.Option.firstVariadicArg(2));
                sync = linker.downcallHandle(libc.find("sync_file_range").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_INT));
                close = linker.downcallHandle(libc.find("close").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            } catch (RuntimeException | LinkageError e) {
                open = null; // no native access or no such call: write-back starts at the fsync
            }
        }
        OPEN = open;
        SYNC_FILE_RANGE = open == null ? null : sync;
        CLOSE = open == null ? null : close;
    }

    /** The file's descriptor, or -1 when there is none (unsupported, or closed). */
    private int fd;

    private Writeback(int fd) {
        this.fd = fd;
    }

    /** A write-back handle on {@code file}; one that does nothing where that is not possible. */
    static Writeback of(Path file) {
        if (OPEN == null) {
            return new Writeback(-1);
        }
        try (Arena arena = Arena.ofConfined()) {
            return new Writeback((int) OPEN.invokeExact(arena.allocateFrom(file.toAbsolutePath().toString()), O_RDONLY, 0));
        } catch (Throwable e) {
            if (e instanceof Error err) {
                throw err;
            }
            return new Writeback(-1);
        }
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
        if (fd < 0) {
            return;
        }
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable e) {
            if (e instanceof Error err) {
                throw err;
            }
        } finally {
            fd = -1;
        }
    }
}
