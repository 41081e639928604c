/**
 * Safetensors and PyTorch checkpoint files on the Foreign Memory API: reading
 * ({@link ugm.io.Checkpoint}, {@link ugm.io.SafetensorsFile}), writing
 * ({@link ugm.io.SafetensorsWriter}, {@link ugm.io.ShardedWriter}), output folders published
 * atomically ({@link ugm.io.OutputFolder}), and Fishers ({@link ugm.io.fisher.FisherSource}).
 *
 * <p>Checking free disk space and advising the kernel on mapped pages call the C library: grant
 * {@code --enable-native-access=ugm.io}.
 */
module ugm.io {
    requires transitive ugm.core;
    requires com.fasterxml.jackson.core;

    exports ugm.io;
    exports ugm.io.fisher;
}
