package ugm.io;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The few Linux C library calls io makes through the FFM linker (open, close, and the hints
 * and reservations of {@link Pages}, {@link DiskSpace} and {@link Writeback}). Every one is
 * optional: elsewhere, or without native access, {@link #call} gives null and the caller does
 * without.
 */
@SuppressWarnings("restricted") // native access is enabled for ugm (--enable-native-access)
final class Libc {
    private static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
    private static final MethodHandle OPEN = call("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = call("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private Libc() {
    }

    /** A downcall handle for {@code name}, or null where there is none (not Linux, no native access, no such call). */
    static MethodHandle call(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        if (!LINUX) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find(name).map(f -> linker.downcallHandle(f, descriptor, options)).orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Whether files can be opened natively (then {@link #open} gives descriptors). */
    static boolean available() {
        return OPEN != null && CLOSE != null;
    }

    /** {@code open(file, flags)}: a file descriptor, or -1 when the file cannot be opened this way. */
    static int open(Path file, int flags) {
        if (!available()) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            return (int) OPEN.invokeExact(arena.allocateFrom(file.toAbsolutePath().toString()), flags, 0);
        } catch (Throwable e) {
            if (e instanceof Error err) {
                throw err;
            }
            return -1;
        }
    }

    /** {@code close(fd)}; failures are ignored (nothing was written through these descriptors). */
    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable e) {
            if (e instanceof Error err) {
                throw err;
            }
        }
    }
}
