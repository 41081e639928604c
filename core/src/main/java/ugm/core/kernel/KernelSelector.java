package ugm.core.kernel;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Chooses the {@link Kernels} implementation. Nothing here touches the Vector API: the vector
 * class is looked up by name only after the {@code jdk.incubator.vector} module has been found
 * readable, so a JVM started without {@code --add-modules jdk.incubator.vector} falls back to
 * the scalar kernels with one message. Messages go to the caller's {@code log}; nothing here
 * prints.
 */
final class KernelSelector {

    private static final String VECTOR_MODULE = "jdk.incubator.vector";

    private KernelSelector() {
    }

    /** {@link Kernels#get()}: chosen on first use, from the system property, messages to System.Logger. */
    static final class Default {
        static final Kernels KERNELS = select(System.getProperty(Kernels.BITS_PROPERTY),
                line -> System.getLogger(KernelSelector.class.getPackageName()).log(System.Logger.Level.WARNING, line));

        private Default() {
        }
    }

    /** See {@link Kernels#select}. */
    static Kernels select(String bitsProperty, Consumer<String> log) {
        String requested = bitsProperty == null ? "" : bitsProperty.strip();
        if (requested.equals("0")) {
            return Kernels.scalar();
        }
        Optional<Module> vectorModule = ModuleLayer.boot().findModule(VECTOR_MODULE);
        if (vectorModule.isEmpty() || !KernelSelector.class.getModule().canRead(vectorModule.get())) {
            log.accept("module " + VECTOR_MODULE + " is not available (run java with --add-modules "
                    + VECTOR_MODULE + "); using the scalar kernels");
            return Kernels.scalar();
        }
        int preferred;
        MethodHandle of;
        try {
            Class<?> vector = Class.forName(KernelSelector.class.getPackageName() + ".VectorKernels");
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            preferred = (int) lookup.findStatic(vector, "preferredBits", MethodType.methodType(int.class)).invoke();
            of = lookup.findStatic(vector, "of", MethodType.methodType(vector, int.class));
        } catch (Throwable e) {
            log.accept("cannot load the vector kernels (" + e + "); using the scalar kernels");
            return Kernels.scalar();
        }
        int bits;
        if (requested.isEmpty()) {
            if (preferred < 128) {
                log.accept("this CPU's vectors are " + preferred + " bits wide, too narrow to pay; using the scalar kernels");
                return Kernels.scalar();
            }
            bits = preferred;
        } else {
            bits = switch (requested) {
                case "64" -> 64;
                case "128" -> 128;
                case "256" -> 256;
                case "512" -> 512;
                default -> -1;
            };
            if (bits < 0) {
                log.accept("ignoring " + Kernels.BITS_PROPERTY + "=" + bitsProperty
                        + " (expected 0, 64, 128, 256 or 512); using " + preferred + "-bit vectors");
                bits = preferred;
            } else if (bits > preferred) {
                log.accept(Kernels.BITS_PROPERTY + "=" + bits + " exceeds this CPU's " + preferred
                        + "-bit vectors; using " + preferred + "-bit vectors");
                bits = preferred;
            }
        }
        try {
            return new Kernels((KernelSupport) of.invoke(bits));
        } catch (Throwable e) {
            log.accept("cannot create " + bits + "-bit vector kernels (" + e + "); using the scalar kernels");
            return Kernels.scalar();
        }
    }
}
